"""The `dnabert` command: every subcommand's help and a run end to end on one tiny model; errors; Hub ids offline."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from dnabert.cli import main
from dnabert.lm import kmer

SUBCOMMANDS = ("tokenize", "predict", "embed", "attention", "motifs", "ism", "vcf", "zeroshot", "mutations")
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
MOTIF = "GGGCGCGCCCTTA"


def _random_sequence(length: int, rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("ACGT"), length))


# --------------------------------------------------------------------------- help


def test_help_lists_every_subcommand_with_an_example(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {name}" in text for name in SUBCOMMANDS)
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        text = capsys.readouterr().out
        assert done.value.code == 0 and text.startswith(f"usage: dnabert {name} ")
        assert f"example:\n  dnabert {name} " in text, name
        if name != "tokenize":  # the only one that runs no model
            assert all(option in text for option in ("--model", "--device", "--batch-size", "--threads")), name


def test_console_script_and_python_m():
    """`pip install` puts `dnabert` beside the interpreter; `python -m dnabert` is the same command."""
    script = Path(sys.executable).parent / "dnabert"
    if not script.exists():
        pytest.skip(f"no console script at {script} (the package is not pip-installed in this environment)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "zeroshot" in result.stdout, result.stderr
    result = subprocess.run([sys.executable, "-m", "dnabert", "zeroshot", "--help"], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0 and "log P(ALT) - log P(REF)" in result.stdout


def test_choices_repeated_for_a_fast_help_match_their_modules():
    from dnabert.cli import common
    from dnabert.interpret.settings import ENGINES
    from dnabert.interpret.variants.vcf import ON_MISMATCH
    from dnabert.lm.embeddings import POOLINGS
    from dnabert.lm.inference import AGGREGATES

    assert (common.AGGREGATES, common.POOLINGS, common.ON_MISMATCH) == (AGGREGATES, POOLINGS, ON_MISMATCH)
    assert common.OVERFLOWS == kmer.OVERFLOW_POLICIES and common.ENGINES == ENGINES


# --------------------------------------------------------------------------- every subcommand


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Small inputs: a genome with two genes, FASTAs (one record longer than a model input), a dataset, a VCF."""
    root = tmp_path_factory.mktemp("cli_inputs")
    rng = np.random.default_rng(3)
    chrom = _random_sequence(3000, rng)
    (root / "genome.fa").write_text(f">chrS\n{chrom}\n")
    pysam.faidx(str(root / "genome.fa"))
    (root / "genes.gtf").write_text("".join(
        f'chrS\tt\texon\t{a}\t{b}\t.\t{s}\t.\tgene_id "{g}"; transcript_id "{g}.1";\n'
        for a, b, s, g in (("1000", "1100", "+", "gp"), ("1200", "1300", "+", "gp"), ("2000", "2100", "-", "gm"),
                           ("2200", "2400", "-", "gm"))))  # fmt: skip
    records = [_random_sequence(n, rng) for n in (60, 80, 101, 1300)]
    (root / "seqs.fa").write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(records)))
    positives = []
    for _ in range(30):
        s = _random_sequence(60, rng)
        positives.append(s[:20] + MOTIF + s[20 + len(MOTIF) :])
    (root / "pos.fa").write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(positives)))
    (root / "neg.fa").write_text("".join(f">n{i}\n{_random_sequence(60, rng)}\n" for i in range(30)))
    rows = [(_random_sequence(70, rng), i % 2, f"d{i}") for i in range(10)]
    (root / "dataset.tsv").write_text("sequence\tlabel\tname\n" + "".join(f"{s}\t{y}\t{n}\n" for s, y, n in rows))
    other = {b: next(c for c in "ACGT" if c != b) for b in "ACGT"}
    sites = (500, 1000, 2420)  # intergenic; at gp's TSS (+ strand, 0-based 999); 20 bp upstream of gm's (- strand, 2399)
    (root / "v.vcf").write_text(VCF_HEADER + "".join(
        f"chrS\t{p}\tv{p}\t{chrom[p - 1]}\t{other[chrom[p - 1]]}\t.\tPASS\t.\n" for p in sites))  # fmt: skip
    (root / "mut.txt").write_text("0\t10\t11\tA\n1\t5\t7\t\n")
    return {"root": root, "genome": root / "genome.fa", "gtf": root / "genes.gtf", "fasta": root / "seqs.fa",
            "pos": root / "pos.fa", "neg": root / "neg.fa", "dataset": root / "dataset.tsv",
            "vcf": root / "v.vcf", "mutations": root / "mut.txt", "records": records}  # fmt: skip


def _run(*args: str) -> None:
    assert main([*args]) == 0, args


def test_every_subcommand_end_to_end(tiny_bert, inputs, tmp_path):
    clf, mlm = str(tiny_bert["classifier"]), str(tiny_bert["release"])
    cpu = ("--device", "cpu", "--threads", "1")

    _run("tokenize", "--fasta", str(inputs["fasta"]), "--model", mlm, "--out", str(tmp_path / "tok.tsv"))
    tokens = pd.read_csv(tmp_path / "tok.tsv", sep="\t")
    assert tokens["id"].tolist() == ["r0", "r1", "r2", "r3", "r3", "r3"]  # 1298 3-mers: windows of 510, 510, 278
    assert tokens["kmers"].tolist() == [58, 78, 99, 510, 510, 278] and tokens["start"].tolist()[3:] == [0, 510, 1020]
    assert tokens.loc[0, "tokens"].split() == [str(i) for i in kmer.encode(inputs["records"][0], 3)]

    _run("predict", "--model", clf, "--fasta", str(inputs["fasta"]), "--out", str(tmp_path / "pred.tsv"), *cpu)
    pred = pd.read_csv(tmp_path / "pred.tsv", sep="\t")
    assert pred["windows"].tolist() == [1, 1, 1, 3]
    np.testing.assert_allclose(pred[["prob_0", "prob_1"]].sum(axis=1), 1, atol=1e-5)

    _run("embed", "--model", mlm, "--fasta", str(inputs["fasta"]), "--out", str(tmp_path / "emb.npy"), *cpu)
    vectors = np.load(tmp_path / "emb.npy")
    index = pd.read_csv(tmp_path / "emb.index.tsv", sep="\t")
    assert vectors.shape == (4, 32) and index["windows"].tolist() == [1, 1, 1, 3]
    _run("embed", "--model", clf, "--dataset", str(inputs["dataset"]), "--pooling", "nucleotide", "--layer", "0",
         "--out", str(tmp_path / "nt.npy"), "--plot", str(tmp_path / "nt.png"), *cpu)  # fmt: skip
    assert np.load(tmp_path / "nt.npy").shape == (700, 32) and (tmp_path / "nt.png").stat().st_size > 0

    _run("attention", "--model", clf, "--fasta", str(inputs["fasta"]), "--out", str(tmp_path / "att.npz"),
         "--tsv", str(tmp_path / "att.tsv"), "--heatmap", str(tmp_path / "att.png"), "--heads", "1", *cpu)  # fmt: skip
    from dnabert.interpret.scores import ScoredSet

    scored = ScoredSet.load(tmp_path / "att.npz")
    assert [len(scored.attention[i]) for i in range(4)] == [60, 80, 101, 1300] and scored.heads == (1,)
    assert len(pd.read_csv(tmp_path / "att.tsv", sep="\t")) == 1541

    _run("motifs", "--model", clf, "--positives", str(inputs["pos"]), "--negatives", str(inputs["neg"]),
         "--out", str(tmp_path / "motifs"), "--engine", "both", "--attribution-sequences", "20", "--pval-cutoff",
         "0.5", "--min-n-motif", "2", *cpu)  # fmt: skip
    from dnabert.interpret.motifs.meme import read_meme

    found = tmp_path / "motifs"
    for name in ("sequences.tsv", "scores.npz", "attention/selection.tsv", "attention/agreement.tsv",
                 "attention/heatmap.png", "attention/profile.png"):  # fmt: skip
        assert (found / name).is_file(), name
    for engine in ("attention", "modisco"):
        for name in ("motifs.meme", "motifs.tsv", "instances.tsv", "instances.bed", "tomtom.tsv", "logos.png",
                     "motifs.html"):  # fmt: skip
            assert (found / engine / name).is_file(), (engine, name)
        read_meme(found / engine / "motifs.meme")
        assert {"query", "target_id", "qvalue"} <= set(pd.read_csv(found / engine / "tomtom.tsv", sep="\t").columns)
    assert len(pd.read_csv(found / "sequences.tsv", sep="\t")) == 60
    scored = ScoredSet.load(found / "scores.npz")  # heads chosen on the same sequences; IG of 20 sampled positives
    selection = pd.read_csv(found / "attention" / "selection.tsv", sep="\t")
    chosen = selection[selection["selected"]]
    assert len(chosen) == 1 and int(chosen["layer"].iloc[0]) == scored.layer
    assert chosen["head"].iloc[0] == "sum:" + ",".join(map(str, scored.heads))
    assert len(scored.attribution_rows) == 20 and (scored.labels[scored.attribution_rows] == 1).all()
    _run("motifs", "--model", clf, "--positives", str(inputs["pos"]), "--negatives", str(inputs["neg"]),
         "--out", str(tmp_path / "fixed"), "--layer", "0", "--heads", "1", "--attribution-sequences", "0",
         *cpu)  # fmt: skip
    fixed = tmp_path / "fixed"  # --layer/--heads given: used as they are
    scored = ScoredSet.load(fixed / "scores.npz")
    assert (scored.layer, scored.heads, len(scored.attribution_rows)) == (0, (1,), 0)
    assert (fixed / "attention" / "motifs.meme").is_file() and not (fixed / "modisco").exists()

    _run("ism", "--model", clf, "--fasta", str(inputs["fasta"]), "--top", "2", "--out", str(tmp_path / "ism.tsv"),
         "--plot", str(tmp_path / "ism.png"), *cpu)  # fmt: skip
    assert pd.read_csv(tmp_path / "ism.tsv", sep="\t")["id"].nunique() == 2

    _run("vcf", "--model", clf, "--vcf", str(inputs["vcf"]), "--genome", str(inputs["genome"]), "--tss",
         str(inputs["gtf"]), "--upstream", "69", "--downstream", "30", "--out", str(tmp_path / "vcf.tsv"), *cpu)  # fmt: skip
    vcf = pd.read_csv(tmp_path / "vcf.tsv", sep="\t")
    assert vcf["status"].tolist() == ["ok"] * 3 and vcf["strand"].tolist() == ["+", "+", "-"]
    assert vcf["context"].tolist() == ["centred", "tss:gp.1|gp", "tss:gm.1|gm"]
    assert (vcf["window_end"] - vcf["window_start"]).tolist() == [100] * 3

    _run("zeroshot", "--model", mlm, "--vcf", str(inputs["vcf"]), "--genome", str(inputs["genome"]), "--window",
         "101", "--out", str(tmp_path / "zs.tsv"), *cpu)  # fmt: skip
    zs = pd.read_csv(tmp_path / "zs.tsv", sep="\t")
    assert zs["status"].tolist() == ["ok"] * 3 and np.isfinite(zs["llr"]).all() and (zs["kmers"] == 3).all()

    _run("mutations", "--model", clf, "--sequences", str(inputs["dataset"]), "--mutations", str(inputs["mutations"]),
         "--out", str(tmp_path / "mut.tsv"), *cpu)  # fmt: skip
    assert len(pd.read_csv(tmp_path / "mut.tsv", sep="\t")) == 2
    assert not list(tmp_path.rglob(".*.tmp"))


# --------------------------------------------------------------------------- errors


def test_bad_input_is_one_line_and_exit_2(tiny_bert, inputs, tmp_path, capsys):
    clf = str(tiny_bert["classifier"])
    missing = tmp_path / "absent.fa"
    assert main(["predict", "--model", clf, "--fasta", str(missing), "--out", str(tmp_path / "o.tsv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"dnabert: error: {missing}: FASTA file not found" and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "o.tsv").exists()

    wrong = tmp_path / "wrong.vcf"
    wrong.write_text(VCF_HEADER + "chrS\t500\tx\tN\tA\t.\t.\t.\nchrS\t501\ty\tA\tC\t.\t.\t.\n")
    base = pysam.FastaFile(str(inputs["genome"])).fetch("chrS", 500, 501)
    if base == "A":
        wrong.write_text(wrong.read_text().replace("\tA\tC\t", "\tC\tA\t"))
    assert main(["vcf", "--model", clf, "--vcf", str(wrong), "--genome", str(inputs["genome"]), "--window", "41",
                 "--on-mismatch", "error", "--out", str(tmp_path / "v.tsv"), "-q"]) == 2  # fmt: skip
    line = capsys.readouterr().err.strip()  # -q: nothing but the error
    assert line.startswith(f"dnabert: error: {wrong}:4: field 'REF': REF ") and f"has '{base}' at chrS:501" in line
    assert "\n" not in line and not (tmp_path / "v.tsv").exists()

    assert main(["zeroshot", "--model", clf, "--vcf", str(wrong), "--genome", str(inputs["genome"]),
                 "--out", str(tmp_path / "z.tsv")]) == 2  # fmt: skip
    assert "has no masked-LM head" in capsys.readouterr().err
    assert main(["motifs", "--model", clf, "--positives", str(inputs["pos"]), "--negatives", str(inputs["neg"]),
                 "--engine", "modisco", "--attribution-sequences", "0", "--out", str(tmp_path / "m")]) == 2  # fmt: skip
    assert "field 'attribution_sequences': the modisco engine needs" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert main(["embed", "--model", str(tmp_path / "nomodel"), "--fasta", str(inputs["fasta"]), "--out",
                 str(tmp_path / "e.npy")]) == 2  # fmt: skip
    assert "model directory not found" in capsys.readouterr().err
    from dnabert.io import InputError

    with pytest.raises(InputError):  # --debug: the exception itself, with its traceback
        main(["predict", "--model", clf, "--fasta", str(missing), "--out", str(tmp_path / "o.tsv"), "--debug"])
    with pytest.raises(SystemExit) as done:
        main(["predict", "--model", clf, "--fasta", str(missing)])  # --out missing: argparse's own message
    assert done.value.code == 2


# --------------------------------------------------------------------------- Hugging Face Hub ids, offline


REVISION = "0123456789abcdef0123456789abcdef01234567"


def _hub_cache(home: Path, repo_id: str, model_dir: Path) -> Path:
    """A Hugging Face cache as huggingface_hub lays it out: blobs, a snapshot of links to them, refs/main."""
    repo = home / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for file in model_dir.iterdir():
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def test_hub_id_from_an_offline_cache(tiny_bert, inputs, tmp_path, monkeypatch, capsys):
    home = tmp_path / "hf"
    _hub_cache(home, "testorg/tiny-dnabert", tiny_bert["release"])
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_CACHE", None)
    command = [sys.executable, "-m", "dnabert", "embed", "--fasta", str(inputs["fasta"]), "--device", "cpu"]
    result = subprocess.run([*command, "--model", "testorg/tiny-dnabert", "--out", str(tmp_path / "hub.npy")],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    _run("embed", "--model", str(tiny_bert["release"]), "--fasta", str(inputs["fasta"]), "--device", "cpu", "--out",
         str(tmp_path / "local.npy"))  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "hub.npy"), np.load(tmp_path / "local.npy"))

    # The workflow's fetch_model: a copy with provenance.json (commit, SHA-256), loaded like any directory.
    from huggingface_hub import constants

    from dnabert.lm.hub import fetch_model, local_model_dir
    from dnabert.lm.models import load_pretrained
    from dnabert.report.provenance import file_rows, model_rows

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 and HF_HOME set at import
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    assert main(["embed", "--model", "testorg/absent", "--fasta", str(inputs["fasta"]), "--out",
                 str(tmp_path / "x.npy")]) == 2  # fmt: skip
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("dnabert: error: testorg/absent: not a local directory, and not in the Hugging Face cache")
    assert str(home / "hub") in last and "HF_HUB_OFFLINE is set" in last and not (tmp_path / "x.npy").exists()
    target = tmp_path / local_model_dir("testorg/tiny-dnabert")
    assert target.name == "testorg--tiny-dnabert"
    record = fetch_model("testorg/tiny-dnabert", target)
    assert record["commit"] == REVISION and set(record["sha256"]) == {"config.json", "vocab.txt", "pytorch_model.bin"}
    weights = (tiny_bert["release"] / "pytorch_model.bin").read_bytes()
    assert record["sha256"]["pytorch_model.bin"] == hashlib.sha256(weights).hexdigest()
    assert json.loads((target / "provenance.json").read_text()) == record
    assert not any(p.is_symlink() for p in target.iterdir())
    assert load_pretrained(target)[1] == 3 and load_pretrained(f"testorg/tiny-dnabert@{REVISION}")[1] == 3
    rows = model_rows({"released": target})
    assert rows == [("released", "Hugging Face Hub testorg/tiny-dnabert", f"commit {REVISION}")]
    assert ("released: pytorch_model.bin", str(target / "pytorch_model.bin"), record["sha256"]["pytorch_model.bin"]) in \
        file_rows({"released": target})  # fmt: skip
