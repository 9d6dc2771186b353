"""Table tasks without negatives (ChIP-seq peak sequences): dinucleotide shuffles as label 0, in each positive's split."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dnabert.data.datasets import build_dataset
from dnabert.io import InputError


def _fasta(path, n, lengths=(40, 60)):
    rng = np.random.default_rng(3)
    with open(path, "w") as handle:
        for i in range(n):
            handle.write(f">p{i}\n" + "".join(rng.choice(list("ACGT"), size=lengths[i % len(lengths)])) + "\n")
    return path


def test_table_shuffles_keep_dinucleotides_and_split(tmp_path):
    fasta = _fasta(tmp_path / "peaks.fa", 60)
    cfg = {"type": "table", "files": [{"path": str(fasta), "label": 1}], "random_split": {"dev": 0.2, "test": 0.2},
           "negatives": {"shuffle": {"ratio": 1}}}
    outputs = {s: tmp_path / f"{s}.tsv.gz" for s in ("train", "dev", "test")}
    frames = build_dataset("peaks", cfg, {"table_0": str(fasta)}, {"seed": 1, "dev": [], "test": []}, outputs)
    for frame in frames.values():
        positives = frame[frame["label"] == 1].set_index("name")["sequence"]
        shuffles = frame[frame["label"] == 0]
        assert len(shuffles) == len(positives) and set(shuffles["source"]) == {"shuffle"}
        for name, seq in zip(shuffles["name"], shuffles["sequence"]):  # same split, same dinucleotides
            parent = positives[name]
            assert len(seq) == len(parent) and seq[0] == parent[0] and seq[-1] == parent[-1]
            assert Counter(zip(seq, seq[1:])) == Counter(zip(parent, parent[1:]))


def test_a_one_class_table_without_shuffles_is_refused(tmp_path):
    fasta = _fasta(tmp_path / "peaks.fa", 10)
    cfg = {"type": "table", "files": [{"path": str(fasta), "label": 1}], "random_split": {"dev": 0.2, "test": 0.2}}
    with pytest.raises(InputError, match="only one class"):
        build_dataset("peaks", cfg, {"table_0": str(fasta)}, {"seed": 1, "dev": [], "test": []},
                      {s: tmp_path / f"{s}.tsv.gz" for s in ("train", "dev", "test")})
