"""Score new sequences with a fine-tuned model (``dnabert predict``, and the workflow's ``predict`` rule).

Input is a FASTA file (plain or gzipped; every record is scored) or a BED file
plus an indexed genome FASTA (``.fai``, and ``.gzi`` when bgzipped): each
interval's sequence is fetched (0-based half-open), and reverse-complemented
when column 6 says ``-``. Sequences are upper-cased; any k-mer with a base other
than A/C/G/T is ``[UNK]``.

Long sequences. A model takes at most 510 k-mers. A longer sequence is cut into
consecutive windows of 510 k-mers (each window starts where the previous one's
last k-mer ended, so every k-mer is scored once; see
:func:`dnabert.lm.kmer.encode_batch` with ``overflow="split"``), every window is
scored on its own, and the window probabilities are combined per sequence:

``mean`` (default)  the average of the windows' class probabilities, weighted by
                    each window's number of k-mers (a short last window counts less);
``max``             the per-class maximum over windows, renormalised to sum to 1
                    (for "does any part look like class c" questions).

Output: a TSV with ``id length windows predicted prob_0 .. prob_{C-1}`` (BED input
adds ``chrom start end strand``), in input order, written atomically. Inference is
batched, in eval mode and without gradients; bf16 autocast on CUDA. This module owns
reading the records (:func:`read_fasta_records`, :func:`read_bed_records`) and writing
the table; loading the model, windowing and scoring are :mod:`dnabert.lm.inference`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pysam

from dnabert.io import InputError, PathLike, atomic_write, bed_lines
from dnabert.lm.inference import load_for_inference, predict_sequences
from dnabert.sequence import read_fasta, reverse_complement

log = logging.getLogger(__name__)

CHUNK = 4096  # sequences scored per chunk (bounds memory for large inputs)


@dataclass
class Record:
    """One sequence to score, with where it came from (BED input)."""

    id: str
    sequence: str
    chrom: str = ""
    start: int | None = None
    end: int | None = None
    strand: str = ""


def read_fasta_records(path: PathLike) -> Iterator[Record]:
    """Records of a (gzipped) FASTA file, upper-cased; names are the first word of each header."""
    for record in read_fasta(path):
        if not record.sequence:
            raise InputError(path, f"record {record.name!r} has no sequence", line=record.line)
        yield Record(record.name, record.sequence.upper())


def read_bed_records(bed: PathLike, genome: PathLike) -> Iterator[Record]:
    """Sequences of BED intervals (``chrom start end [name [score [strand]]]``) from an indexed FASTA."""
    bed, genome = Path(bed), Path(genome)
    if not bed.is_file():
        raise InputError(bed, "BED file not found")
    try:
        fasta = pysam.FastaFile(str(genome))
    except (OSError, ValueError) as err:
        raise InputError(genome, f"cannot open the indexed genome FASTA: {err}") from None
    sizes = dict(zip(fasta.references, fasta.lengths))
    with fasta:
        for line_no, line in bed_lines(bed):
            fields = line.split("\t")
            if len(fields) < 3:
                raise InputError(bed, f"expected at least 3 tab-separated columns, got {len(fields)}", line=line_no)
            chrom = fields[0]
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(bed, "start and end must be integers", line=line_no, field="start/end") from None
            if chrom not in sizes:
                raise InputError(bed, f"chromosome {chrom!r} is not in {genome.name}", line=line_no, field="chrom")
            if not 0 <= start < end <= sizes[chrom]:
                raise InputError(bed, f"interval {start}-{end} is empty or outside {chrom} (length {sizes[chrom]})",
                                 line=line_no, field="start/end")  # fmt: skip
            strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-") else ""
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else ""
            sequence = fasta.fetch(chrom, start, end).upper()
            if strand == "-":
                sequence = reverse_complement(sequence)
            ident = name or f"{chrom}:{start}-{end}" + (f"({strand})" if strand else "")
            yield Record(ident, sequence, chrom, start, end, strand)


def predict_file(
    model_dir: PathLike,
    out: PathLike,
    *,
    fasta: PathLike | None = None,
    bed: PathLike | None = None,
    genome: PathLike | None = None,
    aggregate: str = "mean",
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool = False,
) -> int:
    """Score every sequence of ``fasta`` (or of ``bed`` on ``genome``) and write ``out``; return the count."""
    if (fasta is None) == (bed is None):
        raise ValueError("give exactly one of fasta or bed")
    if bed is not None and genome is None:
        raise ValueError("BED input needs the genome FASTA")
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    n_classes = model.config.num_labels
    records = read_fasta_records(fasta) if fasta is not None else read_bed_records(bed, genome)
    located = bed is not None
    columns = ["id", *(("chrom", "start", "end", "strand") if located else ()), "length", "windows", "predicted",
               *(f"prob_{c}" for c in range(n_classes))]  # fmt: skip
    count = 0
    long = 0
    with atomic_write(out) as handle:
        handle.write("\t".join(columns) + "\n")
        for chunk in _chunks(records, CHUNK):
            probs, windows = predict_sequences(model, [r.sequence for r in chunk], k, batch_size=batch_size,
                                               device=torch_device, aggregate=aggregate, autocast=autocast,
                                               progress=progress)  # fmt: skip
            predicted = probs.argmax(axis=1)
            for record, p, w, c in zip(chunk, probs, windows, predicted):
                where = [record.chrom, str(record.start), str(record.end), record.strand] if located else []
                handle.write("\t".join([record.id, *where, str(len(record.sequence)), str(int(w)), str(int(c)),
                                        *(f"{v:.6g}" for v in p)]) + "\n")  # fmt: skip
            count += len(chunk)
            long += int((windows > 1).sum())
    log.info("scored %d sequences (%d split into windows, %s of window scores) with %s", count, long, aggregate,
             model_dir)  # fmt: skip
    return count


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
