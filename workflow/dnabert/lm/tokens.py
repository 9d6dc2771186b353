"""Token tables: the records of a FASTA file as the model's input rows, written as TSV (``dnabert tokenize``).

Each record becomes one row, or with ``overflow="split"`` one row per 510-k-mer
window (:func:`dnabert.lm.kmer.encode_batch`, the windows every prediction path
uses), with the columns ``id window start kmers tokens``: ``start`` is the 0-based
position of the window's first base in the record, ``kmers`` its number of k-mers,
and ``tokens`` the row as space-separated ids (``[CLS]`` = 2 ... ``[SEP]`` = 3; the
ids of DNABERT's ``vocab.txt``) or, with ``fmt="kmers"``, as k-mers
(``[CLS] ACGTAC CGTACG ... [SEP]``, DNABERT's own input text).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import IO

import numpy as np

from dnabert.io import InputError, PathLike, atomic_write
from dnabert.lm import kmer

FORMATS = ("ids", "kmers")
CHUNK = 4096  # records tokenised at once


@contextlib.contextmanager
def _output(out: PathLike) -> Iterator[IO[str]]:
    """``out`` opened for writing atomically, or standard output for ``-``."""
    if str(out) == "-":
        yield sys.stdout
        sys.stdout.flush()
    else:
        with atomic_write(out) as handle:
            yield handle


def tokenize_file(fasta: PathLike, out: PathLike, k: int, *, overflow: str = "split", fmt: str = "ids") -> int:
    """Write the token table of every record of ``fasta`` to ``out`` (``-``: standard output); return the rows."""
    from dnabert.lm.predict import read_fasta_records

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    names = np.array(kmer.vocab(k), dtype=object)
    records = iter(read_fasta_records(fasta))
    rows = 0
    with _output(out) as handle:
        handle.write("id\twindow\tstart\tkmers\ttokens\n")
        while chunk := [r for _, r in zip(range(CHUNK), records)]:
            for record in chunk:
                if len(record.sequence) < k:
                    raise InputError(fasta, f"record {record.id!r} is {len(record.sequence)} bp, shorter than k = {k}",
                                     field="sequence")  # fmt: skip
                if overflow == "error" and len(record.sequence) - k + 1 > kmer.MAX_KMERS:
                    raise InputError(fasta, f"record {record.id!r} has {len(record.sequence) - k + 1} {k}-mers; at "
                                     f"most {kmer.MAX_KMERS} fit one input (choose split or truncate)",
                                     field="sequence")  # fmt: skip
            batch = kmer.encode_batch([r.sequence for r in chunk], k, overflow=overflow)
            window = np.zeros(len(chunk), dtype=np.int64)
            for row, index in enumerate(batch.sequence_index):
                ids = batch.input_ids[row, : int(batch.attention_mask[row].sum())]
                text = " ".join(names[ids]) if fmt == "kmers" else " ".join(map(str, ids))
                n = window[index]
                handle.write(f"{chunk[index].id}\t{n}\t{n * kmer.MAX_KMERS}\t{ids.size - 2}\t{text}\n")
                window[index] += 1
                rows += 1
    return rows
