"""The interpretation stage inside the tiny DAG (shares the tiny runs of tests/conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

from conftest import TINY, run_snakemake
from dnabert.interpret.motifs.meme import read_meme

pytestmark = pytest.mark.workflow


def test_tiny_run_interprets_the_peaks_task(tiny_runs):
    run = tiny_runs[0]
    recovery = pd.read_csv(run / "results" / "interpret" / "recovery.tsv", sep="\t")
    seeds = sorted(set(recovery["seed"]))
    assert seeds and len(recovery) == 2 * len(seeds)  # one row per planted motif x seed x engine
    assert recovery[["task", "name", "jaspar_id"]].drop_duplicates().values.tolist() == [["ctcf", "CTCF", "MA0139.2"]]
    assert sorted(set(recovery["engine"])) == ["attention", "modisco"]
    for seed in seeds:
        base = run / "results" / "interpret" / "ctcf" / f"seed{seed}"
        for name in ("scores.npz", "attention/selection.tsv", "attention/agreement.tsv", "attention/heatmap.png",
                     "attention/profile.png"):  # fmt: skip
            assert (base / name).is_file(), name
        selection = pd.read_csv(base / "attention" / "selection.tsv", sep="\t")
        assert selection["selected"].sum() == 1
        for engine in ("attention", "modisco"):
            for name in ("motifs.meme", "motifs.tsv", "instances.tsv", "instances.bed", "tomtom.tsv", "logos.png",
                         "motifs.html"):  # fmt: skip
                assert (base / engine / name).is_file(), f"{engine}/{name}"
            read_meme(base / engine / "motifs.meme")  # parses (it may hold no motif: the tiny model barely trains)
            tomtom = pd.read_csv(base / engine / "tomtom.tsv", sep="\t")
            assert {"query", "target_id", "qvalue"} <= set(tomtom.columns)
    assert not (run / "results" / "interpret" / "prom").exists()  # only peaks tasks by default
    ism = pd.read_csv(run / "results" / "interpret" / "ctcf" / "variants" / "ism.tsv", sep="\t")
    assert len(ism) == 3 * 101 and set(ism["alt"]) == set("ACGT")
    assert (run / "resources" / "numba" / "compiled.tsv").is_file()


def test_tiny_interpretation_is_deterministic(tiny_runs):
    def digest(run: Path) -> dict[str, str]:
        base = run / "results" / "interpret"
        names = [p.relative_to(base) for p in sorted(base.glob("ctcf/seed*/scores.npz"))]
        names += [p.relative_to(base) for p in sorted(base.glob("ctcf/seed*/*/motifs.meme"))]
        names += [p.relative_to(base) for p in sorted(base.glob("ctcf/seed*/*/tomtom.tsv"))]
        names += [Path("ctcf/variants/ism.tsv"), Path("recovery.tsv")]
        return {str(name): hashlib.sha256((base / name).read_bytes()).hexdigest() for name in names}

    first = digest(tiny_runs[0])
    assert len(first) > 4 and first == digest(tiny_runs[1])


def test_vcf_scoring_flags_a_wrong_reference_allele(tiny_runs, tmp_path):
    run = tiny_runs[0]
    genome = pysam.FastaFile(str(run / "resources" / "genome" / "tiny" / "genome.fa.gz"))
    ref = genome.fetch("chrA", 50_000, 50_001).upper()
    wrong = next(b for b in "ACGT" if b != ref)
    alt = next(b for b in "ACGT" if b not in (ref, wrong))
    vcf = tmp_path / "variants.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chrA\t50001\tgood\t{ref}\t{alt}\t.\t.\t.\nchrA\t50001\tbad\t{wrong}\t{alt}\t.\t.\t.\n")  # fmt: skip
    config = yaml.safe_load(Path(TINY).read_text())
    config["interpret"]["variants"]["vcf"] = str(vcf)
    configfile = tmp_path / "vcf.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))  # same key order: same params
    target = "results/interpret/ctcf/variants/vcf.tsv"
    result = run_snakemake(run, target, "--cores", "1", "--configfile", str(configfile))  # --configfile takes nargs
    assert "interpret_attention" not in result.stdout + result.stderr  # only the VCF job ran
    table = pd.read_csv(run / target, sep="\t")
    assert table["status"].tolist() == ["ok", "ref_mismatch"]
    assert table.loc[0, "prob_ref"] > 0 and pd.isna(table.loc[1, "prob_ref"])

    config["interpret"]["variants"]["on_mismatch"] = "error"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))  # same key order: same params
    (run / target).unlink()
    failed = run_snakemake(run, target, "--cores", "1", "--configfile", str(configfile), check=False)
    log = (run / "logs" / "interpret" / "ctcf" / "vcf.log").read_text()
    assert failed.returncode != 0 and not (run / target).exists()
    assert "variants.vcf:4" in log and "REF" in log and f"'{wrong}'" in log


def test_tiny_run_embeds_the_test_split(tiny_runs):
    import numpy as np

    run = tiny_runs[0]
    base = run / "results" / "embed" / "ctcf"
    vectors = np.load(base / "test.npy")
    index = pd.read_csv(base / "index.tsv", sep="\t")
    test = pd.read_csv(run / "results" / "datasets" / "ctcf" / "test.tsv.gz", sep="\t")
    assert vectors.shape == (len(test), 32) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert index["label"].tolist() == test["label"].tolist() and (index["windows"] == 1).all()
    assert (base / "projection.png").read_bytes()[:4] == b"\x89PNG"
    digests = [hashlib.sha256((r / "results" / "embed" / "ctcf" / "test.npy").read_bytes()).hexdigest()
               for r in tiny_runs]  # fmt: skip
    assert digests[0] == digests[1]


def test_vcf_scoring_of_a_promoter_task_uses_its_tss_windows(tiny_runs, tmp_path):
    """Issue 14: a promoter model scores a variant in the task's TSS window, in transcript orientation."""
    import numpy as np
    import torch

    from dnabert.data.annotation import tss_from_gtf
    from dnabert.lm.inference import load_classifier, predict_sequences

    run = tiny_runs[0]
    tss = tss_from_gtf(run / "resources" / "simulated" / "tiny" / "genes.gtf.gz")
    genome = pysam.FastaFile(str(run / "resources" / "genome" / "tiny" / "genome.fa.gz"))
    picks = [int(np.flatnonzero(tss.strand == strand)[0]) for strand in "+-"]
    lines, expected = [], []
    for i, shift in zip(picks, (-20, -20)):  # 20 bp upstream of each TSS, on its strand
        pos = int(tss.pos[i]) + (shift if tss.strand[i] == "+" else -shift)
        ref = genome.fetch(str(tss.chrom[i]), pos, pos + 1).upper()
        alt = next(b for b in "ACGT" if b != ref)
        lines.append(f"{tss.chrom[i]}\t{pos + 1}\tv{i}\t{ref}\t{alt}\t.\t.\t.\n")
        start = int(tss.pos[i]) - 69 if tss.strand[i] == "+" else int(tss.pos[i]) - 30
        expected.append((str(tss.strand[i]), start, start + 100, 69 - 20))
    vcf = tmp_path / "promoters.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(lines))
    config = yaml.safe_load(Path(TINY).read_text())
    config["interpret"]["variants"]["vcf"] = str(vcf)
    configfile = tmp_path / "prom.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    target = "results/interpret/prom/variants/vcf.tsv"
    run_snakemake(run, target, "--cores", "1", "--configfile", str(configfile))
    table = pd.read_csv(run / target, sep="\t")
    assert table["status"].tolist() == ["ok", "ok"] and table["context"].str.startswith("tss:").all()
    assert list(zip(table["strand"], table["window_start"], table["window_end"])) == [e[:3] for e in expected]
    model, k = load_classifier(run / "results" / "finetune" / "prom" / "seed1" / "model", torch.device("cpu"))
    from dnabert.sequence import reverse_complement

    for row, (strand, start, end, offset) in zip(table.itertuples(), expected):
        window = genome.fetch(row.chrom, start, end).upper()
        oriented = reverse_complement(window) if strand == "-" else window
        assert oriented[offset] == (reverse_complement(row.ref) if strand == "-" else row.ref)
        probs, _ = predict_sequences(model, [oriented], k)
        assert row.prob_ref == pytest.approx(float(probs[0, 1]), abs=1e-5)
