"""The README's result tables are generated from a run's results/ (make readme-tables), and stay in sync."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from dnabert.io import InputError
from dnabert.report.readme_tables import BLOCK, TABLES, main, render, run_platform

SUMMARY = ("task\tmodel\truns\tcollapsed\theadline\tmcc_mean\tmcc_sd\tauroc_mean\tauroc_sd\n"
           "ctcf\tcnn\t3\t0\tmcc\t0.7000\t0.0100\t0.9000\t0.0050\n"
           "ctcf\tdnabert\t3\t0\tmcc\t0.8000\t0.0200\t0.9500\t0.0100\n"
           "ctcf\tbert_scratch\t3\t1\tmcc\t0.4000\t0.3000\t0.7000\t0.1000\n"
           "ctcf\tkmer_lr\t1\t0\tmcc\t0.5000\t\t0.8000\t\n")  # fmt: skip
RECOVERY = ("task\tseed\tengine\tname\tjaspar_id\trecovered\tbest_qvalue\tmotifs\n"
            "ctcf\t1\tattention\tCTCF\tMA0139.2\tTrue\t1e-05\t3\n"
            "ctcf\t1\tmodisco\tCTCF\tMA0139.2\tFalse\t\t0\n")  # fmt: skip


@pytest.fixture
def results(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "summary.tsv").write_text(SUMMARY)
    (tmp_path / "interpret").mkdir()
    (tmp_path / "interpret" / "recovery.tsv").write_text(RECOVERY)
    return tmp_path


def test_blocks_are_rewritten_from_results(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:benchmarks -->\nold\n<!-- /results:benchmarks -->\n"
                      "<!-- results:recovery -->\n<!-- /results:recovery -->\nend\n")  # fmt: skip
    assert main(["--results", str(results), "--readme", str(readme), "--check"]) == 1
    assert main(["--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    header = next(line for line in text.splitlines() if line.startswith("| task"))
    # models in a fixed order: pretrained, scratch ablation, baselines
    assert header.index("dnabert MCC") < header.index("bert_scratch MCC") < header.index("kmer_lr MCC") < header.index("cnn MCC")
    assert "| ctcf | 0.800 ± 0.020 | 0.950 ± 0.010 | 0.400 ± 0.300 (1 of 3 collapsed) |" in text
    # the engines side by side, one row per planted motif x seed
    assert "| ctcf (CTCF MA0139.2) | 1 | yes, 1e-05 (3) | **no**, – (0) |" in text
    assert main(["--results", str(results), "--readme", str(readme), "--check"]) == 0


def test_missing_results_is_one_clear_line(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:benchmarks -->\n<!-- /results:benchmarks -->\n")
    assert main(["--results", str(tmp_path / "nope"), "--readme", str(readme)]) == 2
    assert "summary.tsv: missing: run the workflow first" in capsys.readouterr().err


def test_the_readme_marks_every_generated_table():
    blocks = {(m.group("name"), m.group("run")) for m in BLOCK.finditer((REPO / "README.md").read_text())}
    assert {name for name, _ in blocks} == set(TABLES), f"README.md should mark these generated tables: {sorted(TABLES)}"
    assert {("benchmarks", None), ("recovery", None), ("benchmarks", "hg38_pieces"), ("corpus_overlap", "hg38_pieces"),
            ("learning_curves", "hg38_pieces")} <= blocks  # fmt: skip
    assert render("no markers\n", REPO / "results") == "no markers\n"


def test_a_tagged_block_is_rewritten_only_from_its_run(tmp_path):
    """hg38_pieces: split sizes beside the task, published figures beside ours, corpus overlap, learning curves."""
    results = tmp_path / "results"
    (results / "benchmarks").mkdir(parents=True)
    (results / "benchmarks" / "summary.tsv").write_text(
        "task\tmodel\truns\tcollapsed\theadline\tmcc_mean\tmcc_sd\tauroc_mean\tauroc_sd\taccuracy_mean\tsource\n"
        "enh\tdnabert\t2\t0\tmcc\t0.3000\t0.0100\t0.7000\t0.0200\t0.6500\t\n"
        "enh\tcnn\t2\t1\tmcc\t0.1000\t0.1000\t0.6000\t0.0500\t0.5500\t\n"
        "enh\tCNN (published)\t\t\tmcc\t\t\t\t\t0.6890\tGresova et al. 2023, Table 2\n")  # fmt: skip
    (results / "datasets" / "enh" / "qc").mkdir(parents=True)
    (results / "datasets" / "enh" / "qc" / "summary.json").write_text('{"rows": {"train": 1200, "dev": 50, "test": 40}}')
    (results / "datasets" / "enh" / "qc" / "corpus_overlap.tsv").write_text(
        "split\trows\trows_with_coordinates\tinterval_bases\toverlap_bp\trows_overlapping\n"
        "train\t1200\t1200\t250000\t240000\t1190\ntest\t40\t40\t8000\t0\t0\n")  # fmt: skip
    (results / "learning_curve").mkdir()
    (results / "learning_curve" / "summary.tsv").write_text(
        "task\tmodel\tfraction\ttrain_sequences\truns\tcollapsed\theadline\tmcc_mean\tmcc_sd\n"
        "enh\tdnabert\t1.0\t1200\t2\t0\tmcc\t0.3000\t0.0100\n"
        "enh\tdnabert\t0.1\t120\t2\t2\tmcc\t0.0000\t0.0000\n")  # fmt: skip
    readme = tmp_path / "README.md"
    text = ("<!-- results:benchmarks -->\ndemo\n<!-- /results:benchmarks -->\n"
            "<!-- results:benchmarks@hg38_pieces -->\nold\n<!-- /results:benchmarks@hg38_pieces -->\n"
            "<!-- results:corpus_overlap@hg38_pieces -->\n<!-- /results:corpus_overlap@hg38_pieces -->\n"
            "<!-- results:learning_curves@hg38_pieces -->\n<!-- /results:learning_curves@hg38_pieces -->\n")  # fmt: skip
    readme.write_text(text)
    assert main(["--results", str(results), "--readme", str(readme), "--run", "hg38_pieces"]) == 0
    new = readme.read_text()
    assert "demo\n" in new and "old" not in new  # the demo's block untouched
    assert ("| enh (1,200 / 50 / 40) | 0.300 ± 0.010 | 0.700 ± 0.020 | 0.100 ± 0.100 (1 of 2 collapsed) | "
            "0.600 ± 0.050 (1 of 2 collapsed) | CNN (published) accuracy 0.689; ours: dnabert 0.650, cnn 0.550 |") in new
    assert "| enh | train | 1,200 | 1,200 | 250,000 | 240,000 | 1,190 |\n| enh | test | 40 | 40 | 8,000 | 0 | 0 |" in new
    lines = new.splitlines()
    first = lines.index("| enh | 0.1 | 120 | 0.000 ± 0.000 (2 of 2 collapsed) |")
    assert lines[first + 1] == "| enh | 1 | 1,200 | 0.300 ± 0.010 |"  # by fraction
    assert main(["--results", str(results), "--readme", str(readme), "--run", "hg38_pieces", "--check"]) == 0


def _fine_tuned(results, kernels, precision="fp32"):
    """Seed metrics.json of a pretrained and a scratch fine-tuning run, as a run on ``kernels`` writes them."""
    for folder in ("finetune/ctcf/seed1", "baselines/ctcf/bert_scratch/seed1"):
        (results / folder).mkdir(parents=True, exist_ok=True)
        (results / folder / "metrics.json").write_text(
            json.dumps({"training": {"kernels": kernels, "precision": precision}}))


def test_a_platform_tagged_block_is_rewritten_only_from_a_run_on_that_platform(results, tmp_path, capsys):
    """Bits depend on the machine's kernels and precision: each gets its own block, added when missing."""
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:benchmarks [cpu GenuineIntel AVX512, bf16] -->\nintel\n"
                      "<!-- /results:benchmarks [cpu GenuineIntel AVX512, bf16] -->\nend\n")  # fmt: skip
    with pytest.raises(InputError, match="records its kernels"):
        render(readme.read_text(), results)
    _fine_tuned(results, "cpu AuthenticAMD AVX2")
    assert run_platform(results) == "cpu AuthenticAMD AVX2, fp32"
    assert main(["--results", str(results), "--readme", str(readme), "--check"]) == 1
    assert "(a run on cpu AuthenticAMD AVX2, fp32): run make readme-tables" in capsys.readouterr().err
    assert main(["--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("<!-- results:benchmarks [cpu GenuineIntel AVX512, bf16] -->\nintel\n")  # untouched
    added = ("<!-- /results:benchmarks [cpu GenuineIntel AVX512, bf16] -->\n\nOn cpu AuthenticAMD AVX2, fp32:\n\n"
             "<!-- results:benchmarks [cpu AuthenticAMD AVX2, fp32] -->\n| task |")  # fmt: skip
    assert added in text and text.endswith("<!-- /results:benchmarks [cpu AuthenticAMD AVX2, fp32] -->\nend\n")
    assert "| ctcf | 0.800 ± 0.020 |" in text
    assert main(["--results", str(results), "--readme", str(readme), "--check"]) == 0
    (results / "benchmarks" / "summary.tsv").write_text(SUMMARY.replace("0.8000", "0.7500"))
    assert main(["--results", str(results), "--readme", str(readme)]) == 0  # rewritten in place, not added again
    again = readme.read_text()
    assert again.count("On cpu AuthenticAMD AVX2") == 1 and "| ctcf | 0.750 ± 0.020 |" in again and "intel\n" in again
    _fine_tuned(results, "cpu GenuineIntel AVX512", "bf16")
    (results / "finetune" / "rest" / "seed1").mkdir(parents=True)
    (results / "finetune" / "rest" / "seed1" / "metrics.json").write_text(
        json.dumps({"training": {"kernels": "cpu AuthenticAMD AVX2", "precision": "fp32"}}))
    assert run_platform(results) == "cpu AuthenticAMD AVX2, fp32 + cpu GenuineIntel AVX512, bf16"  # a mixed run
