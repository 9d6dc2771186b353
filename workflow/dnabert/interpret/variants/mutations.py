"""DNABERT's mutation files (``idx start end replacement``) applied to the sequences of a table, and scored."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from dnabert.interpret.variants.scores import SEQUENCE_RE, Autocast, check_target, effect_columns, target_probs
from dnabert.interpret.variants.tables import read_sequence_table, write_tsv
from dnabert.io import InputError, PathLike, open_text
from dnabert.lm.inference import load_for_inference

MUTATION_COLUMNS = ("idx", "id", "start", "end", "ref", "alt", "prob_ref", "prob_alt", "delta_prob",
                    "log_odds_ratio")  # fmt: skip


@dataclass(frozen=True)
class Mutation:
    """One line of a DNABERT mutation file: replace ``sequence[idx][start:end]`` by ``replacement``."""

    line: int
    idx: int
    start: int
    end: int
    replacement: str


def read_mutation_file(path: PathLike) -> list[Mutation]:
    """DNABERT's mutation file: ``idx start end [replacement]`` per line (tab-separated, 0-based half-open).

    An empty or missing replacement is a deletion; ``start == end`` is an insertion.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "mutation file not found")
    mutations = []
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            mutations.append(_parse_mutation(path, line, line_no))
    if not mutations:
        raise InputError(path, "no mutations in the file")
    return mutations


def _parse_mutation(path: Path, line: str, line_no: int) -> Mutation:
    """One data line of a mutation file, its columns checked."""
    fields = line.split("\t")
    if not 3 <= len(fields) <= 4:
        raise InputError(path, f"expected 3 or 4 tab-separated columns (idx start end replacement), got "
                         f"{len(fields)}", line=line_no)  # fmt: skip
    values = []
    for name, text in zip(("idx", "start", "end"), fields):
        try:
            values.append(int(text))
        except ValueError:
            raise InputError(path, f"{name} must be an integer, got {text!r}", line=line_no,
                             field=name) from None  # fmt: skip
    idx, start, end = values
    if idx < 0 or start < 0:
        raise InputError(path, "idx and start must not be negative", line=line_no,
                         field="idx" if idx < 0 else "start")  # fmt: skip
    if end < start:
        raise InputError(path, f"end {end} is before start {start}", line=line_no, field="end")
    replacement = fields[3].strip().upper() if len(fields) == 4 else ""
    if replacement and not SEQUENCE_RE.match(replacement):
        raise InputError(path, f"replacement must be bases A/C/G/T/N, got {replacement!r}", line=line_no,
                         field="replacement")  # fmt: skip
    return Mutation(line_no, idx, start, end, replacement)


def score_mutations(
    model: nn.Module,
    k: int,
    sequences: Sequence[str],
    mutations: Sequence[Mutation],
    *,
    ids: Sequence[str] | None = None,
    mutation_path: PathLike | None = None,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """Score DNABERT-style mutations of ``sequences`` (columns :data:`MUTATION_COLUMNS`, input order)."""
    target_class = check_target(model, target_class)
    ids = list(ids) if ids is not None else [f"seq{i}" for i in range(len(sequences))]
    mutated, refs = [], []
    for m in mutations:
        if m.idx >= len(sequences):
            raise InputError(mutation_path, f"idx {m.idx} but there are {len(sequences)} sequences", line=m.line,
                             field="idx")  # fmt: skip
        seq = sequences[m.idx].upper()
        if m.end > len(seq):
            raise InputError(mutation_path, f"end {m.end} is past sequence {m.idx} ({len(seq)} bp)", line=m.line,
                             field="end")  # fmt: skip
        mutated.append(seq[: m.start] + m.replacement + seq[m.end :])
        refs.append(seq[m.start : m.end])
    used = sorted({m.idx for m in mutations})
    originals = [sequences[i].upper() for i in used]
    probs = target_probs(model, k, [*originals, *mutated], target_class=target_class, batch_size=batch_size,
                         device=device, autocast=autocast, progress=progress)  # fmt: skip
    by_idx = dict(zip(used, probs[: len(used)]))
    table = pd.DataFrame({
        "idx": [m.idx for m in mutations],
        "id": [ids[m.idx] for m in mutations],
        "start": [m.start for m in mutations],
        "end": [m.end for m in mutations],
        "ref": refs,
        "alt": [m.replacement for m in mutations],
        **effect_columns(np.array([by_idx[m.idx] for m in mutations]), probs[len(used) :]),
    })  # fmt: skip
    return table


def score_mutation_file(
    model_dir: PathLike,
    sequences: PathLike,
    mutations: PathLike,
    out: PathLike,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> pd.DataFrame:
    """:func:`score_mutations` of a DNABERT mutation file on a sequence table; writes ``out``."""
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    seqs, _, ids = read_sequence_table(sequences)
    table = score_mutations(model, k, seqs, read_mutation_file(mutations), ids=ids, mutation_path=mutations,
                            target_class=target_class, batch_size=batch_size, device=torch_device,
                            autocast=autocast)  # fmt: skip
    write_tsv(table, out)
    return table
