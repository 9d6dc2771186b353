"""The README's result tables are generated from a run's results/ (make readme-tables), and stay in sync."""

from __future__ import annotations


import pytest

from conftest import REPO
from dnabert.report.readme_tables import BLOCK, TABLES, main, render

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
    names = {m.group("name") for m in BLOCK.finditer((REPO / "README.md").read_text())}
    assert names == set(TABLES), f"README.md should mark exactly these generated tables: {sorted(TABLES)}"
    assert render("no markers\n", REPO / "results") == "no markers\n"
