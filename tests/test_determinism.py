"""Same config, same threads: byte-identical fine-tuning results, also while another job loads the machine."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from test_finetune import TINY, write_task

# A job that keeps both cores busy with multi-threaded matrix products until killed.
LOAD = "import torch\ntorch.set_num_threads(2)\na = torch.randn(400, 400)\nwhile True:\n    a = (a @ a).tanh()\n"
SETTINGS = {"init": "scratch", "scratch_model": TINY, "epochs": 2, "batch_size": 16, "eval_every_steps": 4,
            "patience": None, "lr": 2e-3, "dropout": 0.1, "both_strands": True}  # fmt: skip (sampled strands)
COMPARED = ("metrics.json", "predictions.tsv", "model/model.safetensors", "model/config.json")


def _finetune(data: Path, out: Path) -> None:
    command = [sys.executable, "-m", "dnabert.lm.finetune", "--data", str(data), "--out", str(out), "--kmer", "3",
               "--seed", "7", "--settings", json.dumps(SETTINGS), "--device", "cpu", "--threads", "1"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)


def test_a_run_is_byte_identical_on_a_quiet_and_on_a_loaded_machine(tmp_path):
    data = tmp_path / "task"
    write_task(data, sizes=(96, 32, 32), length=36, seed=3)
    _finetune(data, tmp_path / "quiet")
    load = subprocess.Popen([sys.executable, "-c", LOAD])
    try:
        time.sleep(0.5)  # the load is running before the job starts
        _finetune(data, tmp_path / "loaded")
    finally:
        load.kill()
        load.wait()
    for name in COMPARED:
        quiet, loaded = (tmp_path / run / name for run in ("quiet", "loaded"))
        assert quiet.read_bytes() == loaded.read_bytes(), f"{name} differs between the quiet and the loaded run"
    logs = [_without_times(tmp_path / run / "history.csv") for run in ("quiet", "loaded")]
    assert logs[0] == logs[1] and len(logs[0]) > 2  # the training log too, but for its wall-clock column


def _without_times(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in csv.DictReader(handle)]
