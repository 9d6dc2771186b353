"""What a motif discovery writes: MEME motif files (and reading them back), the summary and instances tables (TSV, BED)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.model import ALPHABET, Motif, MotifMatrix, MotifResult, summary_table
from dnabert.io import InputError, PathLike, atomic_write


def write_summary(motifs: Sequence[Motif], path: PathLike) -> None:
    """The :func:`summary_table` as TSV, written atomically."""
    with atomic_write(path) as handle:
        summary_table(motifs).to_csv(handle, sep="\t", index=False, float_format="%.6g")


def write_meme(motifs: Sequence[Motif | MotifMatrix], path: PathLike, background: np.ndarray | None = None) -> None:
    """Minimal MEME format (version 4): one ``letter-probability matrix`` per motif, written atomically.

    ``MOTIF <id> <seed or name>``; ``nsites`` is the motif's number of windows
    and ``E`` its seed's adjusted p-value (for a :class:`MotifMatrix`, its ``nsites`` and 0).
    ``background``: A, C, G, T frequencies (default uniform).
    """
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    if bg.shape != (4,) or not np.isclose(bg.sum(), 1.0) or (bg < 0).any():
        raise InputError(path, f"background must be 4 frequencies summing to 1, got {bg}", field="background")
    lines = [
        "MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
        "Background letter frequencies",
        " ".join(f"{a} {f:.4f}" for a, f in zip(ALPHABET, bg)), "",
    ]
    for m in motifs:
        if isinstance(m, Motif):
            name, probs, nsites, evalue = m.seed, m.probs, m.n_instances, m.padj
        else:
            name, probs, nsites, evalue = m.name, np.asarray(m.probs, dtype=float), m.nsites, 0.0
        name = re.sub(r"\s+", "_", name)
        lines.append(f"MOTIF {m.id} {name}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {probs.shape[1]} nsites= {nsites} E= {evalue:.3g}")
        lines.extend(" ".join(f"{v:.6f}" for v in col) for col in probs.T)
        lines.append("")
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")


def read_meme(path: PathLike) -> dict[str, np.ndarray]:
    """Motif id -> ``(4, width)`` matrix, read with memelite's MEME reader (the first word of each MOTIF line)."""
    from memelite.io import read_meme as _read

    return {key.split()[0]: np.asarray(pwm) for key, pwm in _read(str(path)).items()}


class HasInstances(Protocol):
    """What the instance writers read: a :class:`MotifResult` or a TF-MoDISco result."""

    instances: pd.DataFrame  # motif, seq_index, start, end, strand ('+' or '-' on the sequence), sequence
    n_pos: int


def instances_table(result: MotifResult | HasInstances, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The windows of every motif: motif, seq_index, [name], start, end, strand, sequence."""
    table = result.instances.copy()
    if names is not None:
        names = list(names)
        if len(names) != result.n_pos:
            raise InputError(None, f"{len(names)} names for {result.n_pos} positive sequences", field="names")
        table.insert(2, "name", [names[i] for i in table["seq_index"].tolist()])
    return table


def genomic_instances(result: MotifResult | HasInstances, coords: pd.DataFrame) -> pd.DataFrame:
    """The windows in genome coordinates, as BED6 columns (chrom, start, end, name, score, strand).

    ``coords`` has one row per positive sequence, in order, with ``chrom`` and
    ``start`` (0-based genomic start of the sequence) and optionally
    ``strand`` ('-' when the sequence is the reverse complement of the genome). An
    instance on the minus strand of its sequence (TF-MoDISco) is on the other strand.
    """
    for column in ("chrom", "start"):
        if column not in coords.columns:
            raise InputError(None, f"coordinates need a '{column}' column", field="coords")
    if len(coords) != result.n_pos:
        raise InputError(None, f"{len(coords)} coordinate rows for {result.n_pos} positive sequences", field="coords")
    inst = result.instances
    seq = inst["seq_index"].to_numpy(dtype=np.int64)  # an empty frame (no motif) reads as float
    chrom = coords["chrom"].to_numpy()[seq]
    g0 = coords["start"].to_numpy(dtype=np.int64)[seq]
    strand = coords["strand"].astype(str).to_numpy()[seq] if "strand" in coords.columns else np.full(seq.size, "+")
    minus = strand == "-"
    if minus.any():
        if "end" not in coords.columns:
            raise InputError(None, "minus-strand sequences need an 'end' column", field="coords")
        length = coords["end"].to_numpy(dtype=np.int64)[seq] - g0
    else:
        length = np.zeros(seq.size, dtype=np.int64)
    s, e = inst["start"].to_numpy(), inst["end"].to_numpy()
    start = np.where(minus, g0 + length - e, g0 + s)
    end = np.where(minus, g0 + length - s, g0 + e)
    flipped = minus ^ (inst["strand"].astype(str).to_numpy() == "-")
    bed = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "name": inst["motif"].to_numpy(),
                        "score": 0, "strand": np.where(flipped, "-", "+")})
    return bed.sort_values(["chrom", "start", "end", "name"], kind="stable").reset_index(drop=True)


def write_instances(
    result: MotifResult | HasInstances, path: PathLike, names: Sequence[str] | None = None,
    bed_path: PathLike | None = None, coords: pd.DataFrame | None = None,
) -> None:
    """Write the windows as TSV (see :func:`instances_table`) and, with ``coords``, as BED to ``bed_path``."""
    with atomic_write(path) as handle:
        instances_table(result, names).to_csv(handle, sep="\t", index=False)
    if bed_path is not None:
        if coords is None:
            raise InputError(bed_path, "a BED file needs the positives' genomic coordinates", field="coords")
        with atomic_write(bed_path) as handle:
            genomic_instances(result, coords).to_csv(handle, sep="\t", index=False, header=False)
