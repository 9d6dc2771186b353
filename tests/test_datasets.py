"""Task datasets end to end (library level): every task type, leakage checks, QC, bad input leaves no output."""

from __future__ import annotations

import dataclasses
import gzip
import json

import numpy as np
import pytest
import yaml

from conftest import REPO
from dnabert.data import tasks
from dnabert.data.datasets import COLUMNS, build_dataset, read_dataset
from dnabert.data.qc import dataset_qc
from dnabert.io import InputError
from dnabert.data.splits import canonical

SPLITS = {"dev": ["chrB"], "test": ["chrC"], "seed": 4}


def outputs(tmp_path, task):
    return {s: tmp_path / task / f"{s}.tsv.gz" for s in ("train", "dev", "test")}


def qc_outputs(tmp_path, task):
    return {"counts": tmp_path / task / "qc" / "counts.tsv", "composition": tmp_path / task / "qc" / "comp.tsv",
            "summary": tmp_path / task / "qc" / "summary.json", "plot": tmp_path / task / "qc" / "gc.png"}


def build(tmp_path, small_genome, task, cfg, files, splits=SPLITS):
    out = outputs(tmp_path, task)
    frames = build_dataset(task, cfg, files, splits, out, small_genome["fasta"], small_genome["blacklist"])
    return frames, out


def assert_leakage_free(frames):
    keys = {name: set(canonical(frame["sequence"])) for name, frame in frames.items()}
    assert not keys["train"] & keys["dev"] and not keys["train"] & keys["test"] and not keys["dev"] & keys["test"]
    for name, frame in frames.items():
        assert len(set(canonical(frame["sequence"]))) == len(frame), f"duplicates within {name}"
        located = frame[frame["chrom"] != ""]
        expected = {"dev": {"chrB"}, "test": {"chrC"}}.get(name, {"chrA"})
        assert set(located["chrom"]) == expected


PEAKS_CFG = {"type": "peaks", "window": 101, "max_n_fraction": 0.0,
             "negatives": {"shuffle": {"ratio": 1}, "gc_matched": {"ratio": 1, "bins": 50, "exclude_flank": 1000},
                           "flank": {"ratio": 1, "offset": 400}}}


def test_peaks_task(tmp_path, small_genome):
    frames, out = build(tmp_path, small_genome, "ctcf", PEAKS_CFG, {"peaks": small_genome["peaks_CTCF"]})
    assert_leakage_free(frames)
    for name, frame in frames.items():
        with gzip.open(out[name], "rt") as handle:
            assert handle.readline().rstrip("\n").split("\t") == list(COLUMNS)
        assert set(frame["source"]) == {"peak", "shuffle", "gc_matched", "flank"}
        assert (frame["sequence"].str.len() == 101).all()
        assert set("".join(frame["sequence"])) <= set("ACGT")
        shuffles = frame[frame["source"] == "shuffle"]
        assert (shuffles["chrom"] == "").all() and shuffles["start"].isna().all()
        positives = frame[frame["label"] == 1]
        assert len(frame[frame["source"] == "shuffle"]) == len(positives)
        # The flanks and background windows stay off the positives.
        for source in ("flank", "gc_matched"):
            part = frame[frame["source"] == source]
            assert len(part) > 0.8 * len(positives)
    # Reading back gives the same table; the QC confirms there is no leakage.
    assert read_dataset(out["dev"]).equals(frames["dev"])
    summary = dataset_qc("ctcf", out, qc_outputs(tmp_path, "ctcf"))
    assert summary["sequences_in_two_splits"] == 0 and summary["intervals_overlapping_another_split"] == 0
    assert summary["chromosomes"] == {"train": ["chrA"], "dev": ["chrB"], "test": ["chrC"]}
    assert summary["gc_distance_to_positives"]["gc_matched"]["gc_ks"] < summary["gc_distance_to_positives"]["flank"]["gc_ks"] + 0.05
    assert (tmp_path / "ctcf" / "qc" / "gc.png").read_bytes()[:4] == b"\x89PNG"
    counts = (tmp_path / "ctcf" / "qc" / "counts.tsv").read_text().splitlines()
    assert counts[0] == "split\tlabel\tsource\tcount" and len(counts) == 1 + 3 * 4


def test_datasets_are_deterministic(tmp_path, small_genome):
    _, first = build(tmp_path / "a", small_genome, "ctcf", PEAKS_CFG, {"peaks": small_genome["peaks_CTCF"]})
    _, second = build(tmp_path / "b", small_genome, "ctcf", PEAKS_CFG, {"peaks": small_genome["peaks_CTCF"]})
    _, other = build(tmp_path / "c", small_genome, "ctcf", PEAKS_CFG, {"peaks": small_genome["peaks_CTCF"]},
                     splits={**SPLITS, "seed": 5})
    assert all(first[s].read_bytes() == second[s].read_bytes() for s in first)
    assert first["train"].read_bytes() != other["train"].read_bytes()


def test_negatives_stay_off_peaks_that_top_leaves_out(tmp_path, small_genome):
    """With top: N, flank and GC-matched negatives avoid every peak of the file, not only the N selected.

    Weak peaks tile each chromosome every 400 bp; flanks at +-400 bp of a strong peak land exactly on a
    weak peak, and random genome tiles would hit one about half the time.
    """
    sizes = dict(line.split("\t") for line in small_genome["sizes"].read_text().splitlines())
    lines, strong = [], []
    for chrom, size in sizes.items():
        for i, summit in enumerate(range(1000, int(size) - 1000, 400)):
            signal = 100 if i % 37 == 5 else 1
            lines.append(f"{chrom}\t{summit - 50}\t{summit + 50}\tp{chrom}{i}\t0\t.\t{signal}\t-1\t-1\t50\n")
            strong += [(chrom, summit)] if signal == 100 else []
    peaks = tmp_path / "tiled.narrowPeak"
    peaks.write_text("".join(lines))
    cfg = {**PEAKS_CFG, "top": len(strong), "negatives": {"shuffle": {"ratio": 1}, "flank": {"ratio": 2, "offset": 400},
                                                            "gc_matched": {"ratio": 1, "bins": 10, "exclude_flank": 0}}}
    frames, _ = build(tmp_path, small_genome, "tiled", cfg, {"peaks": peaks})
    every = {(c, int(s) + 50) for c, s in (line.split("\t")[:2] for line in lines)}
    located = [f[f["source"].isin(["flank", "gc_matched"])] for f in frames.values()]
    negatives = [row for part in located for row in part.itertuples()]
    positives = sum(int((f["label"] == 1).sum()) for f in frames.values())
    assert positives > 20 and len(negatives) > 0.5 * positives
    assert not [r for r in negatives if any((r.chrom, c) in every for c in range(r.start - 50, r.end + 51))]
    assert sum((f["source"] == "flank").sum() for f in frames.values()) == 0  # every flank lands on a weak peak


def test_promoter_task_tata_split_and_substitution(tmp_path, small_genome):
    cfg = {"type": "promoters", "upstream": 249, "downstream": 50, "tata": "non_tata", "tata_pvalue": 1e-3,
           "tata_region": [-40, -10], "negatives": {"substitution": {"ratio": 1, "pieces": 20, "replaced": 12}}}
    frames, _ = build(tmp_path, small_genome, "prom", cfg, {"annotation": small_genome["gtf"]})
    assert_leakage_free(frames)
    every, _ = build(tmp_path, small_genome, "prom_all", {**cfg, "tata": "all"}, {"annotation": small_genome["gtf"]})
    n_non = sum((f["label"] == 1).sum() for f in frames.values())
    n_all = sum((f["label"] == 1).sum() for f in every.values())
    assert 0 < n_non < n_all
    for frame in frames.values():
        assert set(frame["source"]) == {"non_tata", "substitution"}
        assert (frame["sequence"].str.len() == 300).all()
        negatives = frame[frame["source"] == "substitution"]
        parents = frame[frame["label"] == 1].set_index("name")["sequence"]
        for name, sequence in zip(negatives["name"], negatives["sequence"]):
            same = np.frombuffer(sequence.encode(), np.uint8) == np.frombuffer(parents[name].encode(), np.uint8)
            assert same.reshape(20, 15).all(axis=1).sum() >= 8


def test_splice_task_has_three_classes(tmp_path, small_genome):
    cfg = {"type": "splice", "window": 400, "nonsplice": {"ratio": 0.5, "decoy_fraction": 0.5, "min_distance": 50}}
    frames, _ = build(tmp_path, small_genome, "splice", cfg, {"annotation": small_genome["gtf"]})
    assert_leakage_free(frames)
    train = frames["train"]
    assert set(train["label"]) == {0, 1, 2}
    donors = train[train["label"] == 1]["sequence"]
    acceptors = train[train["label"] == 2]["sequence"]
    assert (donors.str[200:202] == "GT").all() and (acceptors.str[198:200] == "AG").all()
    assert (train[train["source"] == "decoy_GT"]["sequence"].str[200:202] == "GT").all()
    assert (train[train["source"] == "decoy_AG"]["sequence"].str[198:200] == "AG").all()
    n_sites = (train["label"] > 0).sum()
    assert abs((train["label"] == 0).sum() - 0.5 * n_sites) < 0.25 * n_sites


def test_table_task_random_split(tmp_path, small_genome):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(200)]
    csv = tmp_path / "data.csv"
    csv.write_text("sequence,label\n" + "".join(f"{s},{i % 3}\n" for i, s in enumerate(seqs + seqs[:10])))
    cfg = {"type": "table", "files": [{"path": str(csv)}], "random_split": {"dev": 0.1, "test": 0.2}}
    out = outputs(tmp_path, "tab")
    frames = build_dataset("tab", cfg, {"table_0": str(csv)}, SPLITS, out)
    sizes = {name: len(frame) for name, frame in frames.items()}
    assert sum(sizes.values()) == 200 and abs(sizes["test"] - 40) <= 3 and abs(sizes["dev"] - 20) <= 3
    keys = {name: set(canonical(f["sequence"])) for name, f in frames.items()}
    assert not keys["train"] & keys["test"]
    assert (frames["test"]["chrom"] == "").all() and set(frames["train"]["source"]) == {"data.csv"}


# --------------------------------------------------------------------------- bad input: clear error, no output


def assert_no_output(tmp_path, task):
    assert not any((tmp_path / task).glob("*.tsv.gz")) and not any((tmp_path / task).glob(".*"))


def test_window_larger_than_a_chromosome(tmp_path, small_genome):
    cfg = {**PEAKS_CFG, "window": 250_000}
    with pytest.raises(InputError) as caught:
        build(tmp_path, small_genome, "big", cfg, {"peaks": small_genome["peaks_CTCF"]})
    assert "window of 250000 bp is larger than chromosome chrB (200000 bp)" in str(caught.value)
    assert caught.value.field == "tasks.big.window"
    assert_no_output(tmp_path, "big")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chrA\t100\t300\t.\t0\t.\t5\t-1\t-1\n", ":1: expected 10 tab-separated"),
        ("# header only\n", "no peaks"),
        ("A\t100\t300\t.\t0\t.\t5\t-1\t-1\t50\n", "'A' vs 'chrA'"),
        ("chrA\t300\t100\t.\t0\t.\t5\t-1\t-1\t50\n", ":1: field 'end': end 100 is not after start 300"),
    ],
    ids=["malformed", "empty", "chr-prefix", "end-before-start"],
)
def test_bad_peak_files_stop_with_a_clear_error_and_no_output(tmp_path, small_genome, text, message):
    peaks = tmp_path / "bad.narrowPeak"
    peaks.write_text(text)
    with pytest.raises(InputError) as caught:
        build(tmp_path, small_genome, "bad", PEAKS_CFG, {"peaks": peaks})
    assert str(peaks) in str(caught.value) and message in str(caught.value)
    assert_no_output(tmp_path, "bad")


def test_split_without_positives_is_named(tmp_path, small_genome):
    peaks = tmp_path / "chrA_only.narrowPeak"
    peaks.write_text("chrA\t100000\t100300\t.\t0\t.\t5\t-1\t-1\t50\n")
    with pytest.raises(InputError) as caught:
        build(tmp_path, small_genome, "one", PEAKS_CFG, {"peaks": peaks})
    assert "no peaks in split 'dev' (chromosomes chrB)" in str(caught.value) and caught.value.field == "splits.dev"
    assert_no_output(tmp_path, "one")


def test_schema_defaults_equal_dataclass_defaults():
    schema = yaml.safe_load((REPO / "config" / "schema" / "config.schema.yaml").read_text())
    branches = {b["if"]["properties"]["type"]["const"]: b["then"]["properties"] for b in schema["definitions"]["task"]["allOf"]}
    classes = {"peaks": tasks.PeaksTask, "promoters": tasks.PromotersTask, "splice": tasks.SpliceTask}
    for kind, cls in classes.items():
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        for key, value in defaults.items():
            assert branches[kind][key]["default"] == (list(value) if isinstance(value, tuple) else value), (kind, key)
    negatives = schema["definitions"]["negatives"]["properties"]
    for key, cls in (("gc_matched", tasks.GCMatchedSettings), ("flank", tasks.FlankSettings),
                     ("substitution", tasks.SubstitutionSettings)):
        for f in dataclasses.fields(cls):
            assert negatives[key]["properties"][f.name]["default"] == f.default, (key, f.name)
    for kind, cls in (("table", tasks.TableTask), ("coordinates", tasks.CoordinatesTask)):
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING and f.name in branches[kind]:
                assert branches[kind][f.name]["default"] == f.default, (kind, f.name)
    assert branches["coordinates"]["dedup"]["default"] == "auto" == tasks.TableTask.dedup
    nonsplice = branches["splice"]["nonsplice"]["properties"]
    assert {k: v["default"] for k, v in nonsplice.items()} == dataclasses.asdict(tasks.NonspliceSettings())
    assert json.dumps(branches["peaks"]["negatives"]["default"]) == '{"shuffle": {"ratio": 1}}'
