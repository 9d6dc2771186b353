"""In-silico saturation mutagenesis: every single-base substitution of a sequence, scored in batches.

:func:`ism` does one sequence, :func:`ism_records` several, and :func:`ism_file`
the records of a FASTA or the best-scoring positives of a dataset table, writing
the table and (with :mod:`~dnabert.interpret.variants.heatmap`) the heatmap.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.interpret.variants.heatmap import plot_ism
from dnabert.interpret.variants.scores import BASES, Autocast, check_target, device_of, effect_columns, target_probs
from dnabert.interpret.variants.tables import read_sequence_table, write_tsv
from dnabert.io import InputError, PathLike
from dnabert.lm.inference import load_for_inference, predict_sequences
from dnabert.lm.predict import Record, read_fasta_records

log = logging.getLogger(__name__)

MAX_MUTANT_BASES = 1 << 24  # bases of mutant sequences built at once (bounds ISM memory)
ISM_COLUMNS = ("position", "ref", "alt", "prob_ref", "prob_alt", "delta_prob", "log_odds_ratio")


def _as_codes(sequence: str) -> np.ndarray:
    try:
        return np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise ValueError("sequence has non-ASCII characters") from None


def mutant_table(sequence: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every single-base substitution: ``(position, ref byte, alt byte)`` arrays, position-major.

    Three alternatives at an A/C/G/T position, all four elsewhere (e.g. at N).
    """
    codes = _as_codes(sequence)
    bases = np.frombuffer(BASES.encode(), dtype=np.uint8)
    keep = bases[None, :] != codes[:, None]
    position, column = np.nonzero(keep)
    return position, codes[position], bases[column]


def mutant_sequences(sequence: str, position: np.ndarray, alt: np.ndarray) -> list[str]:
    """The sequences with ``alt[i]`` at ``position[i]`` (one matrix, rows decoded at once)."""
    codes = _as_codes(sequence)
    matrix = np.repeat(codes[None, :], position.size, axis=0)
    matrix[np.arange(position.size), position] = alt
    return matrix.view(f"S{codes.size}").ravel().astype(f"U{codes.size}").tolist()


def ism(
    model: nn.Module,
    sequence: str,
    k: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """In-silico saturation mutagenesis of one sequence.

    Returns one row per substitution (3 per A/C/G/T position): ``position`` (0-based),
    ``ref``, ``alt``, ``prob_ref``, ``prob_alt``, ``delta_prob``, ``log_odds_ratio``.
    The reference and all mutants are encoded and scored together (in slices of
    :data:`MAX_MUTANT_BASES` bases for very long sequences).
    """
    target_class = check_target(model, target_class)
    sequence = sequence.upper()
    if len(sequence) < k:
        raise ValueError(f"sequence of {len(sequence)} bp is shorter than k = {k}")
    position, ref, alt = mutant_table(sequence)
    per_pass = max(1, MAX_MUTANT_BASES // len(sequence))
    prob_alt = np.empty(position.size)
    prob_ref = np.nan
    for start in range(0, position.size, per_pass):
        stop = min(start + per_pass, position.size)
        mutants = mutant_sequences(sequence, position[start:stop], alt[start:stop])
        batch = [sequence, *mutants] if start == 0 else mutants
        probs = target_probs(model, k, batch, target_class=target_class, batch_size=batch_size, device=device,
                             autocast=autocast, progress=progress)  # fmt: skip
        if start == 0:
            prob_ref, probs = float(probs[0]), probs[1:]
        prob_alt[start:stop] = probs
    table = pd.DataFrame({
        "position": position.astype(np.int64),
        "ref": ref.view("S1").astype("U1"),
        "alt": alt.view("S1").astype("U1"),
        **effect_columns(np.full(position.size, prob_ref), prob_alt),
    })  # fmt: skip
    return table


def ism_records(
    model: nn.Module,
    records: Sequence[Record],
    k: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`ism` of several sequences, stacked, with their ``id`` as the first column."""
    tables = []
    for record in tqdm(records, desc="ISM", unit="seq", disable=not progress or len(records) < 2):
        table = ism(model, record.sequence, k, target_class=target_class, batch_size=batch_size, device=device,
                    autocast=autocast)  # fmt: skip
        table.insert(0, "id", record.id)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["id", *ISM_COLUMNS])
    return pd.concat(tables, ignore_index=True)


def top_positives(
    model: nn.Module,
    k: int,
    records: Sequence[Record],
    labels: Sequence[int],
    n: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    source: PathLike | None = None,
) -> list[Record]:
    """The ``n`` records labelled ``target_class`` that the model scores highest for it, best first."""
    positives = [r for r, label in zip(records, labels) if label == target_class]
    if not positives:
        raise InputError(source, f"no sequences with label {target_class}", field="label")
    probs, _ = predict_sequences(model, [r.sequence for r in positives], k, batch_size=batch_size,
                                 device=device_of(model, device), autocast=autocast)  # fmt: skip
    order = np.argsort(-probs[:, target_class], kind="stable")[:n]
    return [positives[i] for i in order]


def ism_file(
    model_dir: PathLike,
    out_tsv: PathLike,
    out_png: PathLike | None = None,
    *,
    fasta: PathLike | None = None,
    dataset: PathLike | None = None,
    top: int | None = 10,
    target_class: int = 1,
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """ISM of the records of ``fasta`` (all, or the ``top`` best-scoring) or of the ``top`` best positives of
    ``dataset`` (a TSV with ``sequence label`` columns); writes the table and, if asked, the heatmap."""
    if (fasta is None) == (dataset is None):
        raise ValueError("give exactly one of fasta or dataset")
    progress = sys.stderr.isatty() if progress is None else progress
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    target_class = check_target(model, target_class)
    if fasta is not None:
        records = list(read_fasta_records(fasta))
        labels = [target_class] * len(records)
        source = fasta
    else:
        sequences, labels, ids = read_sequence_table(dataset)
        records = [Record(i, s) for i, s in zip(ids, sequences)]
        source = dataset
    if top is not None and (dataset is not None or top < len(records)):
        records = top_positives(model, k, records, labels, top, target_class=target_class, batch_size=batch_size,
                                device=torch_device, autocast=autocast, source=source)  # fmt: skip
    log.info("in-silico mutagenesis of %d sequences from %s (%d substitutions)", len(records), source,
             sum(3 * len(r.sequence) for r in records))  # fmt: skip
    table = ism_records(model, records, k, target_class=target_class, batch_size=batch_size, device=torch_device,
                        autocast=autocast, progress=progress)  # fmt: skip
    write_tsv(table, out_tsv)
    if out_png is not None:
        plot_ism(table, out_png, target_class=target_class)
    return table
