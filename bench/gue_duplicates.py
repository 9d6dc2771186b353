"""Rows per split of a GUE-like benchmark with repeated sequences, under each ``dedup`` policy.

Builds a seeded synthetic folder shaped like GUE ``prom_core_tata`` (70-bp sequences,
train/dev/test = 4,904/613/613 rows) with known repeats: 2 in test (one exact copy, one
reverse complement), 1 in dev, 4 within train, 3 train rows that are test sequences
(one with the other label), 2 train rows that are dev sequences. Then builds the
``table`` task as the workflow does (``dnabert.data.datasets.build_dataset``) with
every policy and prints the rows kept per split, and the duplicate counts of the QC.

    .venv/bin/python bench/gue_duplicates.py [--out /tmp/gue_dups]

``all`` is the behaviour before ``dedup`` existed (test 613 -> 611); ``auto`` (the
default for files with a split) keeps dev and test whole.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from dnabert.config.finetune import gue_tasks
from dnabert.data.datasets import build_dataset
from dnabert.sequence import reverse_complement

SIZES = {"train": 4904, "dev": 613, "test": 613}
POLICIES = ("all", "auto", "within_train", "none")


def write_gue_folder(root: Path, seed: int = 7) -> Path:
    """A ``prom_core_tata``-like folder (``train.csv``, ``dev.csv``, ``test.csv``) with the repeats above."""
    rng = np.random.default_rng(seed)
    rows = {}
    for split, n in SIZES.items():
        seqs = ["".join(rng.choice(list("ACGT"), 70)) for _ in range(n)]
        rows[split] = [[s, int(i % 2)] for i, s in enumerate(seqs)]
    test, dev, train = rows["test"], rows["dev"], rows["train"]
    test[10] = list(test[3])  # an exact copy within test
    test[11] = [reverse_complement(test[4][0]), test[4][1]]  # a reverse-complement copy within test
    dev[20] = list(dev[5])  # an exact copy within dev
    for i in range(4):
        train[100 + i] = list(train[i])  # copies within train
    train[200] = list(test[30])
    train[201] = [reverse_complement(test[31][0]), test[31][1]]
    train[202] = [test[32][0], 1 - test[32][1]]  # a train row with a test sequence and the other label
    train[300] = list(dev[40])
    train[301] = list(dev[41])
    folder = root / "GUE" / "prom" / "prom_core_tata"
    folder.mkdir(parents=True, exist_ok=True)
    for split, table in rows.items():
        (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{label}\n" for s, label in table))
    return root / "GUE"


def build(folder: Path, policy: str, out: Path) -> tuple[dict[str, int], dict]:
    """Rows kept per split and the duplicates report of the one task in ``folder`` under ``policy``."""
    (name, spec), = gue_tasks(folder).items()
    cfg = {**spec, "dedup": policy, "random_split": {"dev": 0.1, "test": 0.1}}
    files = {f"table_{i}": f["path"] for i, f in enumerate(spec["files"])}
    outputs = {s: out / policy / f"{s}.tsv.gz" for s in SIZES} | {"duplicates": out / policy / "duplicates.json"}
    frames = build_dataset(name, cfg, files, {"dev": [], "test": [], "seed": 1}, outputs)
    return {s: len(frames[s]) for s in SIZES}, json.loads(outputs["duplicates"].read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the data (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the table, not the dataset jobs' log lines
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        folder = write_gue_folder(out)
        print(f"rows in the files: train {SIZES['train']}, dev {SIZES['dev']}, test {SIZES['test']}")
        print("| dedup | train | dev | test | removed (train/dev/test) |")
        print("|---|---|---|---|---|")
        report = {}
        for policy in POLICIES:
            kept, report = build(folder, policy, out / "datasets")
            removed = "/".join(str(report["removed"][s]) for s in SIZES)
            label = f"{policy} ({report['dedup']})" if policy == "auto" else policy
            print(f"| {label} | {kept['train']} | {kept['dev']} | {kept['test']} | {removed} |")
        before = report["before"]
        print("counted in qc/duplicates.json (before dedup):")
        for split in SIZES:
            within = before["within"][split]
            print(f"  {split}: {within['exact']} exact and {within['reverse_complement']} reverse-complement copies")
        for pair, shared in before["across"].items():
            print(f"  {pair}: {shared['sequences']} shared sequences ({shared['exact']} exact, "
                  f"{shared['reverse_complement']} reverse complement), rows {shared['rows']}")
        print(f"  sequences with two labels: {before['label_conflicts']}")


if __name__ == "__main__":
    main()
