"""Test intervals cut out of the pretraining corpus, and each split's measured overlap with the corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from dnabert.data.datasets import COLUMNS, write_splits
from dnabert.data.holdout import corpus_overlap, intersection_bases, write_test_intervals
from dnabert.data.qc import corpus_overlap_qc
from dnabert.data.splits import SPLITS
from dnabert.lm.corpus import CorpusSettings, build_corpus


def _genome(directory: Path) -> Path:
    rng = np.random.default_rng(5)
    plain = directory / "genome.fa"
    with open(plain, "w") as handle:
        for name in ("chr1", "chr2"):
            handle.write(f">{name}\n" + "".join(rng.choice(list("ACGT"), size=20_000)) + "\n")
    path = directory / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.faidx(str(path))
    return path


def _split(rows: list[tuple[str, int, int]], shuffles: int = 0) -> pd.DataFrame:
    located = [{"sequence": "ACGT", "label": 1, "chrom": c, "start": s, "end": e, "strand": "+", "name": f"{c}:{s}",
                "source": "peak"} for c, s, e in rows]
    shuffled = [{"sequence": "ACGT", "label": 0, "chrom": "", "start": pd.NA, "end": pd.NA, "strand": "", "name": "x",
                 "source": "shuffle"}] * shuffles
    frame = pd.DataFrame(located + shuffled, columns=list(COLUMNS))
    for column in ("start", "end"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_intersection_bases_counts_shared_bases_only():
    a = (np.array([0, 100]), np.array([50, 200]))
    b = (np.array([40, 150, 200]), np.array([120, 160, 300]))
    assert intersection_bases(a, b) == 10 + 20 + 10  # [40,50) [100,120) [150,160); [200,...) only touches
    assert intersection_bases(a, (np.zeros(0, int), np.zeros(0, int))) == 0


def test_test_intervals_are_masked_and_qc_reports_zero_bp_for_test(tmp_path):
    fasta = _genome(tmp_path)
    frames = {"train": _split([("chr1", 1_000, 1_101), ("chr2", 500, 601)]),
              "dev": _split([("chr2", 9_000, 9_101)]),
              "test": _split([("chr1", 5_000, 5_101), ("chr1", 5_050, 5_300), ("chr2", 12_000, 12_101)], shuffles=2)}
    paths = {split: tmp_path / f"{split}.tsv.gz" for split in SPLITS}
    write_splits(frames, paths)
    counts = write_test_intervals({"task": paths["test"]}, tmp_path / "exclude.bed")
    assert counts == {"task": {"rows": 5, "with_coordinates": 3}}
    body = [line for line in (tmp_path / "exclude.bed").read_text().splitlines() if not line.startswith("#")]
    assert body == ["chr1\t5000\t5300", "chr2\t12000\t12101"]
    settings = CorpusSettings(k=6, max_kmers=100, seed=1, shard_tokens=10_000)
    build_corpus(fasta, tmp_path / "plain", settings, progress=False)
    build_corpus(fasta, tmp_path / "masked", settings, progress=False, mask=tmp_path / "exclude.bed")
    unmasked = {row["split"]: row for row in corpus_overlap(frames, tmp_path / "plain")}
    assert unmasked["test"]["overlap_bp"] == 300 + 101  # without the mask the corpus covers the test intervals
    rows = corpus_overlap_qc(paths, tmp_path / "masked", tmp_path / "overlap.tsv")
    by_split = {row["split"]: row for row in rows}
    assert by_split["test"] == {"split": "test", "rows": 5, "rows_with_coordinates": 3, "interval_bases": 401,
                                "overlap_bp": 0, "rows_overlapping": 0}
    assert by_split["train"]["overlap_bp"] == 202 and by_split["train"]["rows_overlapping"] == 2
    table = pd.read_csv(tmp_path / "overlap.tsv", sep="\t")
    assert table["overlap_bp"].tolist() == [202, 101, 0]
