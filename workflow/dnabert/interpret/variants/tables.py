"""Tables in and out: the sequences of a dataset (or DNABERT k-mer) TSV, and score tables as TSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnabert.io import InputError, PathLike, atomic_write, open_text


def read_sequence_table(path: PathLike) -> tuple[list[str], list[int], list[str]]:
    """Sequences, labels and ids of a dataset TSV(.gz) (``sequence label ...``) or a DNABERT k-mer TSV."""
    from dnabert.data.tables import read_dnabert_tsv
    from dnabert.lm.evaluation import read_split

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "sequence table not found")
    with open_text(path) as handle:
        handle.readline()
        first = handle.readline().split("\t", 1)[0]
    if " " in first.strip():
        table = read_dnabert_tsv(path)
        return table.sequences, list(table.labels), table.names
    split = read_split(path)
    return split.sequences, split.labels.tolist(), split.ids


def write_tsv(table: pd.DataFrame, path: PathLike) -> None:
    """A score table as TSV (header, ``%.6g`` floats, empty cells for missing scores), written atomically."""
    with atomic_write(path) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g", na_rep="", lineterminator="\n")
