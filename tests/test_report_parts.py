"""dnabert.html tables and pages; dnabert.report: provenance, run cost from benchmark files, stage pages, figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dnabert import html
from dnabert.io import InputError
from dnabert.report import cost, figures, provenance, stages


def test_table_escapes_formats_and_bolds():
    table = html.table(["name", "value"], [["<b>x</b>", 0.12345], ["y", 1234], ["z", None]],
                       bold=[(1, 1)], digits=(0, 2))  # fmt: skip
    page = html.render("tsv.html.j2", title="T & U", intro="", table=table)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "0.12" in page and "<b>1,234</b>" in page and "n/a" in page
    assert page.count('class="num"') == 3
    assert page.startswith("<!DOCTYPE html>") and "<title>T &amp; U</title>" in page and "<script" not in page


def test_pattern_regex_matches_snakemake_patterns():
    regex = cost.pattern_regex("benchmarks/finetune/{task}/seed{seed}.tsv")
    assert regex.fullmatch("benchmarks/finetune/ctcf/seed2.tsv").groupdict() == {"task": "ctcf", "seed": "2"}
    assert not regex.fullmatch("benchmarks/finetune/ctcf/x/seed2.tsv")
    assert cost.pattern_regex("benchmarks/{a,[0-9]+}.tsv").fullmatch("benchmarks/12.tsv")
    assert not cost.pattern_regex("benchmarks/{a,[0-9]+}.tsv").fullmatch("benchmarks/x.tsv")


BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_benchmark_records_and_cost_by_rule(tmp_path):
    (tmp_path / "benchmarks" / "finetune" / "ctcf").mkdir(parents=True)
    (tmp_path / "benchmarks" / "finetune" / "ctcf" / "seed1.tsv").write_text(
        BENCH_HEADER + "10.0\t0:00:10\t300.0\t1\t1\t1\t0\t0\t50\t9.0\n")
    (tmp_path / "benchmarks" / "finetune" / "ctcf" / "seed2.tsv").write_text(
        BENCH_HEADER + "30.0\t0:00:30\t500.0\t1\t1\t1\t0\t0\t50\t20.0\n")
    (tmp_path / "benchmarks" / "pretrain_mlm.tsv").write_text(
        BENCH_HEADER + "100.0\t0:01:40\tNA\t1\t1\t1\t0\t0\t50\t150.0\n")
    (tmp_path / "benchmarks" / "stray.tsv").write_text(BENCH_HEADER)  # no rule's pattern: ignored
    patterns = {"finetune_seed": "benchmarks/finetune/{task}/seed{seed}.tsv", "pretrain_mlm": "benchmarks/pretrain_mlm.tsv"}
    records = cost.benchmark_records(patterns, tmp_path)
    assert sorted((r.rule, r.job) for r in records) == [
        ("finetune_seed", "task=ctcf, seed=1"), ("finetune_seed", "task=ctcf, seed=2"), ("pretrain_mlm", "-")]
    rows = cost.cost_by_rule(records)
    assert [row["rule"] for row in rows] == ["pretrain_mlm", "finetune_seed"]  # slowest first
    assert rows[1] == {"rule": "finetune_seed", "jobs": 2, "total_s": 40.0, "mean_s": 20.0, "max_s": 30.0,
                       "cpu_s": 29.0, "max_rss_mb": 500.0}  # fmt: skip
    assert rows[0]["max_rss_mb"] is None  # NA is not a number
    cost.write_cost_tsv(tmp_path / "cost.tsv", rows)
    assert (tmp_path / "cost.tsv").read_text().splitlines()[2] == "finetune_seed\t2\t40.000\t20.000\t30.000\t29.000\t500.000"
    cost.write_cost_page(tmp_path / "cost.html", records)
    page = (tmp_path / "cost.html").read_text()
    assert "finetune_seed" in page and "task=ctcf, seed=2" in page and "3 jobs of 2 rules" in page
    cost.plot_cost(records, tmp_path / "cost.png")
    assert Image.open(tmp_path / "cost.png").size[0] > 500
    (tmp_path / "benchmarks" / "pretrain_mlm.tsv").write_text("not a benchmark\n")
    with pytest.raises(InputError, match="not a Snakemake benchmark file"):
        cost.benchmark_records(patterns, tmp_path)


def test_provenance_pieces(tmp_path):
    config = {
        "genome": {"name": "g", "url": "https://x/g.fa.gz", "md5": "a" * 32,
                   "blacklist": {"path": "/data/bl.bed.gz"}},
        "tasks": {"nrf1": {"type": "peaks", "peaks": {"encode": "ENCFF407IVS", "md5": "b" * 32}}},
        "interpret": {"jaspar_release": "JASPAR2024", "motif": "MA0139.2"},
    }  # fmt: skip
    assert provenance.describe_source(config["genome"]) == ("https://x/g.fa.gz", f"md5 {'a' * 32}")
    assert provenance.describe_source(config["tasks"]["nrf1"]["peaks"])[0] == "ENCODE ENCFF407IVS"
    assert provenance.encode_accessions(config) == [("nrf1", "nrf1.peaks", "ENCFF407IVS")]
    assert provenance.jaspar_releases(config) == [("interpret.jaspar_release", "JASPAR2024")]
    assert provenance.jaspar_matrices(config) == [("interpret.motif", "MA0139.2")]
    versions = provenance.package_versions(["numpy", "no-such-package-xyz"])
    assert versions["numpy"] == np.__version__ and versions["no-such-package-xyz"] == "not installed"
    assert provenance.git_revision(tmp_path) is None  # not a checkout
    genome = tmp_path / "genome.fa.gz"
    genome.write_bytes(b"ACGT")
    provenance.write_overview_page(tmp_path / "overview.html", config, configfiles=["my.yaml"],
                                   inputs={"genome": genome}, workflow_dir=tmp_path)  # fmt: skip
    body = (tmp_path / "overview.html").read_text()
    assert "ENCFF407IVS" in body and "JASPAR2024" in body and "my.yaml" in body and "not a git checkout" in body
    assert provenance.sha256sum(genome) in body  # sha256 of b"ACGT"
    assert "<title>Run overview: g</title>" in body


def _predictions(path, labels, probs, runs=None):
    columns = ["id", "row", "label", *(["run"] if runs else []), "predicted",
               *(f"prob_{c}" for c in range(probs.shape[1]))]  # fmt: skip
    lines = ["\t".join(columns)]
    for i, (label, row) in enumerate(zip(labels, probs)):
        run = [runs[i]] if runs else []
        lines.append("\t".join([f"s{i}", str(i), str(label), *run, str(int(row.argmax())), *map(str, row)]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("n_classes", [2, 3])
def test_evaluation_figures(tmp_path, n_classes):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, n_classes, 60)
    probs = rng.dirichlet(np.ones(n_classes), 60)
    probs[np.arange(60), labels] += 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    bert = [_predictions(tmp_path / f"seed{s}.tsv", labels, probs) for s in (1, 2)]
    cnn = _predictions(tmp_path / "cnn.tsv", np.r_[labels, labels], np.r_[probs, probs[::-1]], ["1"] * 60 + ["2"] * 60)
    models = figures.model_predictions({"dnabert": bert, "cnn": [cnn]})
    assert list(models["dnabert"]) == ["seed1", "seed2"] and list(models["cnn"]) == ["1", "2"]
    assert models["cnn"]["2"][1].shape == (60, n_classes)
    names = figures.class_names("splice" if n_classes == 3 else "peaks", n_classes)
    assert names == (["non-splice", "donor", "acceptor"] if n_classes == 3 else ["negative", "positive"])
    figures.plot_curves(models, tmp_path / "curves.png", title="t")
    figures.plot_confusion(models, tmp_path / "confusion.png", names, title="t")
    for name in ("curves.png", "confusion.png"):
        pixels = np.asarray(Image.open(tmp_path / name).convert("L"))
        assert pixels.shape[1] > 800 and pixels.std() > 10


def test_benchmark_and_dataset_pages(tmp_path):
    summary = tmp_path / "summary.tsv"
    summary.write_text(
        "task\tmodel\truns\theadline\tmcc_mean\tmcc_sd\tauroc_mean\tauroc_sd\n"
        "ctcf\tdnabert\t3\tmcc\t0.5\t0.1\t0.8\t0.02\n"
        "ctcf\tcnn\t3\tmcc\t0.7\t0.01\t0.9\t\n"
    )
    stages.write_metrics_page(tmp_path / "metrics.html", summary)
    page = (tmp_path / "metrics.html").read_text()
    assert "0.500 ± 0.100" in page and "<b>0.700 ± 0.010</b>" in page and "<b>0.900</b>" in page
    qc = tmp_path / "qc"
    qc.mkdir()
    (qc / "counts.tsv").write_text("split\tlabel\tsource\tcount\ntrain\t1\tpeak\t10\ntrain\t0\tshuffle\t5\n"
                                   "test\t1\tpeak\t4\n")  # fmt: skip
    (qc / "composition.tsv").write_text(
        "split\tlabel\tsource\tn\tgc_mean\tgc_sd\tgc_min\tgc_median\tgc_max\tlength_min\tlength_median\tlength_max\n"
        "train\t1\tpeak\t10\t0.45\t0.05\t0.3\t0.45\t0.6\t101\t101.0\t101\n")
    (qc / "summary.json").write_text('{"chromosomes": {"train": ["chr1"], "dev": [], "test": ["chr4"]}, '
                                     '"sequences_in_two_splits": 0, "intervals_overlapping_another_split": 0, '
                                     '"gc_distance_to_positives": {"shuffle": {"gc_histogram_tvd": 0.1, "gc_ks": 0.2}}}')
    stages.write_dataset_page(tmp_path / "dataset.html", "ctcf", qc / "counts.tsv", qc / "composition.tsv",
                              qc / "summary.json")  # fmt: skip
    page = (tmp_path / "dataset.html").read_text()
    assert "<td>peak</td><td class=\"num\">10</td><td class=\"num\">0</td><td class=\"num\">4</td>" in page
    assert "chr4" in page and "Kolmogorov" in page and ">19<" in page  # 10 + 5 + 4 in all
    assert "<title>Dataset ctcf</title>" in page


def test_tsv_page(tmp_path):
    tsv = tmp_path / "recovery.tsv"
    tsv.write_text("motif\trecovered\tq_value\tinstances\nMA0139.2\tyes\t1.5e-05\t12\n")
    html.write_page(tmp_path / "recovery.html", "tsv.html.j2", title="Recovered <q>", intro="Planted motifs.",
                    table=html.tsv_table(tsv, caption="Recovery"))  # fmt: skip
    body = (tmp_path / "recovery.html").read_text()
    assert "Planted motifs." in body and "<caption>Recovery</caption>" in body
    assert "<h1>Recovered &lt;q&gt;</h1>" in body  # templates escape every value
    assert '<td class="num">12</td>' in body and "<td>yes</td>" in body and "1.50e-05" in body
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(InputError):
        html.tsv_table(tmp_path / "empty.tsv")


def test_pretrain_page_splits_held_out_accuracy_by_what_the_model_was_shown():
    by_input = {"mask": {"tokens": 800, "loss": 8.1565, "accuracy": 0.0, "frequency_loss": 8.1123},
                "random": {"tokens": 100, "loss": 9.6, "accuracy": 0.0},
                "unchanged": {"tokens": 100, "loss": 1.04, "accuracy": 0.958}}  # fmt: skip
    page = str(stages.pretrain_context({"eval": {"loss": 7.5, "accuracy": 0.0958, "by_input": by_input}})["held_out"])
    assert "shown [MASK] (learned from context)" in page and "800, 8.1565, 0.0000" in page
    assert "100, 1.0400, 0.9580" in page
    held_out = stages.pretrain_context({"eval": {"loss": 7.5, "by_input": by_input}})["held_out"]
    cells = {row.cells[0].text: row.cells[1].text for row in held_out.rows}
    assert cells["held-out tokens shown [MASK]: cross-entropy of the training k-mer frequencies (no context)"] == "8.1123"
    older = str(stages.pretrain_context({"eval": {"loss": 7.5, "accuracy": 0.0958}})["held_out"])  # a run before the split
    assert "shown [MASK]" in older and "n/a" in older
    cells = {row.cells[0].text: row.cells[1].text
             for row in stages.pretrain_context({"eval": {"loss": 7.5}})["held_out"].rows}  # fmt: skip
    assert cells["held-out tokens shown [MASK]: cross-entropy of the training k-mer frequencies (no context)"] == "n/a"
