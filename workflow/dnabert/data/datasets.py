"""Task datasets: assembly of positives and negatives per task type, leakage-free splits, TSV output.

One task gives ``train.tsv.gz``, ``dev.tsv.gz`` and ``test.tsv.gz`` with the
header ``sequence label chrom start end strand name source`` (tab-separated;
coordinates 0-based half-open, blank where a sequence has none, e.g. a
shuffle); :mod:`dnabert.data.qc` checks them. Task types (settings in
:mod:`dnabert.data.tasks`):

* ``peaks`` (DNABERT-TF): summit-centred windows of ChIP-seq peaks, label 1.
* ``promoters`` (DNABERT-Prom): TSS windows in transcript orientation, label 1;
  optionally only TATA or only non-TATA promoters (FIMO scan of JASPAR TBP).
* ``splice`` (DNABERT-Splice): 0 non-splice, 1 donor, 2 acceptor.
* ``table``: labelled sequences from GUE CSV, DNABERT TSV or FASTA files.
* ``coordinates``: labelled genome intervals (Genomic Benchmarks CSVs, BED + label),
  cut from the genome (:mod:`dnabert.data.coordinates`).

Negatives (label 0, for peaks and promoters), each with a ratio to positives:
``shuffle`` (dinucleotide), ``gc_matched`` (genomic background), ``flank``
(shifted windows) and ``substitution`` (DNABERT's promoter construction).
Positives are split by chromosome; negatives are made within each split and stay
off every interval of the input (every peak of the file, not only the selected ones).
Repeated sequences are counted and removed by the task's ``dedup`` policy
(:mod:`dnabert.data.duplicates`); labels must be 0..C-1 with C >= 2 and every class in train.
"""

from __future__ import annotations

import contextlib
import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnabert.data import coordinates as coords
from dnabert.data import negatives as neg
from dnabert.data.annotation import (
    Sites, boundary_windows, distance_to_nearest, gene_spans, promoter_windows, read_gtf_transcripts,
    sample_gene_positions, sites_on_genome, splice_sites, tata_scan, transcripts_on_genome, tss_from_bed,
    tss_from_gtf,
)
from dnabert.data.duplicates import deduplicate, resolve_policy
from dnabert.data.intervals import GenomeSequence, IntervalIndex, Intervals, check_chromosome_ends, within_bounds
from dnabert.data.peaks import on_genome, read_peaks, select_peaks, summit_windows
from dnabert.data.splits import SPLITS, ChromosomeSplits, random_split
from dnabert.data.tables import read_table, table_labels
from dnabert.data.tasks import (
    CoordinatesTask, NegativeSettings, PeaksTask, PromotersTask, SpliceTask, TableTask, task_from_config,
)
from dnabert.io import InputError, PathLike, atomic_path
from dnabert.sequence import gc_fraction, n_fraction, to_strings

log = logging.getLogger(__name__)

COLUMNS = ("sequence", "label", "chrom", "start", "end", "strand", "name", "source")
SPLICE_LABELS = {"nonsplice": 0, "donor": 1, "acceptor": 2}


def task_rng(seed: int, task: str, stream: str) -> np.random.Generator:
    """An independent, reproducible random stream per task and step."""
    return np.random.default_rng([seed, zlib.crc32(task.encode()), zlib.crc32(stream.encode())])


# --------------------------------------------------------------------------- assembly


@dataclass
class Rows:
    """Dataset rows as columns, plus the split of each row."""

    sequence: list[str]
    label: np.ndarray
    intervals: Intervals | None  # None: no coordinates (e.g. shuffles)
    name: np.ndarray
    source: np.ndarray
    split: np.ndarray

    def frame(self) -> pd.DataFrame:
        n = len(self.sequence)
        if self.intervals is None:
            chrom = np.full(n, "", dtype=object)
            start = end = pd.array([pd.NA] * n, dtype="Int64")
            strand = np.full(n, "", dtype=object)
        else:
            chrom, strand = self.intervals.chrom, self.intervals.strand.astype(object)
            start = pd.array(self.intervals.start, dtype="Int64")
            end = pd.array(self.intervals.end, dtype="Int64")
        return pd.DataFrame({
            "sequence": self.sequence, "label": np.asarray(self.label, dtype=np.int64), "chrom": chrom,
            "start": start, "end": end, "strand": strand, "name": self.name, "source": self.source,
            "split": self.split,
        })


@dataclass
class Genomic:
    """What genome-based tasks share: the genome, blacklist, splits and the task's name and seed."""

    genome: GenomeSequence
    blacklist: IntervalIndex
    splits: ChromosomeSplits
    task: str

    def rng(self, stream: str) -> np.random.Generator:
        return task_rng(self.splits.seed, self.task, stream)


def check_window(intervals: Intervals, sizes: dict[str, int], field_name: str) -> None:
    """A window longer than a chromosome that holds positives is a configuration error."""
    width = int(intervals.length.max()) if len(intervals) else 0
    for chrom in np.unique(intervals.chrom.astype(str)):
        if chrom in sizes and width > sizes[chrom]:
            raise InputError(None, f"window of {width} bp is larger than chromosome {chrom} ({sizes[chrom]} bp)",
                             field=field_name)


def clean_windows(
    ctx: Genomic, intervals: Intervals, max_n_fraction: float, what: str
) -> tuple[Intervals, np.ndarray, np.ndarray]:
    """Drop windows past chromosome ends, on the blacklist or with too many N.

    Returns (kept windows, their oriented upper-case sequences, kept row indices).
    """
    rows = np.arange(len(intervals))
    inside = within_bounds(intervals, ctx.genome.sizes)
    black = np.zeros(len(intervals), dtype=bool)
    black[inside] = ctx.blacklist.overlaps(intervals.take(inside))
    keep = inside & ~black
    kept = intervals.take(keep)
    codes = ctx.genome.windows(kept)
    low_n = n_fraction(codes) <= max_n_fraction
    log.info("%s: %d windows; dropped %d past chromosome ends, %d on the blacklist, %d with N > %g",
             what, len(intervals), int((~inside).sum()), int(black.sum()), int((~low_n).sum()), max_n_fraction)
    return kept.take(low_n), codes[low_n], rows[keep][low_n]


def _require_positives(split: np.ndarray, ctx: Genomic, what: str) -> None:
    for name in SPLITS:
        if not (split == name).any():
            chroms = {"dev": ctx.splits.dev, "test": ctx.splits.test}.get(name)
            where = f"chromosomes {', '.join(chroms)}" if chroms else "the train chromosomes"
            raise InputError(None, f"no {what} in split '{name}' ({where})",
                             field=f"splits.{name}" if chroms else f"tasks.{ctx.task}")


def _negatives(
    ctx: Genomic, settings: NegativeSettings, positives: Intervals, codes: np.ndarray, split: np.ndarray,
    max_n_fraction: float, occupied: Intervals,
) -> list[Rows]:
    """Every configured negative type, made within each split; genomic ones stay off ``occupied``.

    ``occupied`` holds every interval of the input (the positives and, e.g., peaks
    that ``top`` or ``min_qvalue`` left out), so that no negative lands on a real site.
    """
    out: list[Rows] = []
    width = codes.shape[1]
    stranded = bool((positives.strand != ".").any())
    if settings.shuffle and settings.shuffle.ratio > 0:
        seqs, parent = neg.shuffled_negatives(codes, settings.shuffle.ratio, ctx.rng("shuffle"))
        out.append(Rows(to_strings(seqs), np.zeros(len(parent)), None, positives.name[parent],
                        np.full(len(parent), "shuffle", dtype=object), split[parent]))
    if settings.substitution and settings.substitution.ratio > 0:
        s = settings.substitution
        seqs, parent = neg.substitution_negatives(codes, s.pieces, s.replaced, ctx.rng("substitution"), s.ratio)
        out.append(Rows(to_strings(seqs), np.zeros(len(parent)), None, positives.name[parent],
                        np.full(len(parent), "substitution", dtype=object), split[parent]))
    if settings.flank and settings.flank.ratio > 0:
        windows, parent = neg.flank_windows(positives, settings.flank.offset, settings.flank.ratio, ctx.rng("flank"))
        clash = np.zeros(len(windows), dtype=bool)
        inside = within_bounds(windows, ctx.genome.sizes)
        clash[inside] = IntervalIndex(occupied).overlaps(windows.take(inside))
        windows, parent = windows.take(~clash), parent[~clash]
        kept, flank_codes, rows = clean_windows(ctx, windows, max_n_fraction, f"{ctx.task} flanks")
        kept.name = np.array([f"{n}|flank" for n in positives.name[parent[rows]]], dtype=object)
        out.append(Rows(to_strings(flank_codes), np.zeros(len(kept)), kept, kept.name,
                        np.full(len(kept), "flank", dtype=object), split[parent[rows]]))
    if settings.gc_matched and settings.gc_matched.ratio > 0:
        g = settings.gc_matched
        exclude = ctx.blacklist.union(Intervals(occupied.chrom, occupied.start - g.exclude_flank,
                                                occupied.end + g.exclude_flank))
        pos_gc = gc_fraction(codes)
        rng = ctx.rng("gc_matched")
        genome_chroms = list(ctx.genome.sizes)
        for name in SPLITS:
            mask = split == name
            total = int(round(g.ratio * mask.sum()))
            windows, _ = neg.gc_matched_windows(
                ctx.genome, pos_gc[mask], ctx.splits.chromosomes(name, genome_chroms), width, total, exclude,
                g.bins, max_n_fraction, rng)
            if stranded:
                windows.strand = np.where(rng.random(len(windows)) < 0.5, "+", "-")
            seqs = ctx.genome.windows(windows)
            log.info("%s %s: %d GC-matched background windows (GC histogram distance %.3f)", ctx.task, name,
                     len(windows), neg.histogram_distance(pos_gc[mask], gc_fraction(seqs)))
            out.append(Rows(to_strings(seqs), np.zeros(len(windows)), windows, windows.name,
                            np.full(len(windows), "gc_matched", dtype=object), np.full(len(windows), name)))
    return out


def _positive_rows(ctx: Genomic, windows: Intervals, max_n: float, labels: np.ndarray, sources: np.ndarray,
                   what: str) -> tuple[Rows, np.ndarray]:
    kept, codes, rows = clean_windows(ctx, windows, max_n, what)
    split = ctx.splits.split_of(kept.chrom)
    return Rows(to_strings(codes), labels[rows], kept, kept.name, sources[rows], split), codes


def build_peaks(task: PeaksTask, ctx: Genomic) -> list[Rows]:
    every = on_genome(read_peaks(task.peaks, task.format), ctx.genome.sizes)
    check_chromosome_ends(every.intervals, ctx.genome.sizes, every.path, "peaks", every.line)
    peaks = select_peaks(every, task.top, task.min_qvalue)
    windows = summit_windows(peaks, task.window)
    check_window(windows, ctx.genome.sizes, f"tasks.{task.name}.window")
    n = len(windows)
    rows, codes = _positive_rows(ctx, windows, task.max_n_fraction, np.ones(n, dtype=np.int64),
                                 np.full(n, "peak", dtype=object), f"{task.name} peaks")
    _require_positives(rows.split, ctx, "peaks")
    occupied = Intervals.concat([rows.intervals, summit_windows(every, task.window)])
    return [rows, *_negatives(ctx, task.negatives, rows.intervals, codes, rows.split, task.max_n_fraction,
                              occupied)]


def build_promoters(task: PromotersTask, ctx: Genomic) -> list[Rows]:
    tss = tss_from_gtf(task.annotation) if task.format == "gtf" else tss_from_bed(task.annotation)
    tss = sites_on_genome(tss, ctx.genome.sizes, task.annotation, "TSSs")
    windows = promoter_windows(tss, task.upstream, task.downstream)
    every = windows  # every promoter, TATA or not: negatives stay off all of them
    check_window(windows, ctx.genome.sizes, f"tasks.{task.name}.upstream")
    n = len(windows)
    source = np.full(n, "promoter", dtype=object)
    if task.tata != "all":
        lo, hi = task.tata_region
        region = promoter_windows(tss, -lo, hi)
        inside = within_bounds(region, ctx.genome.sizes)
        has_tata = np.zeros(n, dtype=bool)
        has_tata[inside] = tata_scan(ctx.genome.windows(region.take(inside)), task.tata_pvalue)
        log.info("%s: %d of %d promoters have a TBP (TATA) hit at p < %g", task.name, int(has_tata.sum()), n,
                 task.tata_pvalue)
        wanted = has_tata if task.tata == "tata" else ~has_tata
        windows, source = windows.take(wanted), np.where(has_tata, "tata", "non_tata")[wanted].astype(object)
        n = len(windows)
    rows, codes = _positive_rows(ctx, windows, task.max_n_fraction, np.ones(n, dtype=np.int64), source,
                                 f"{task.name} promoters")
    _require_positives(rows.split, ctx, "promoters")
    occupied = Intervals.concat([rows.intervals, every])
    return [rows, *_negatives(ctx, task.negatives, rows.intervals, codes, rows.split, task.max_n_fraction,
                              occupied)]


def build_splice(task: SpliceTask, ctx: Genomic) -> list[Rows]:
    transcripts = transcripts_on_genome(read_gtf_transcripts(task.annotation), ctx.genome.sizes, task.annotation)
    donors, acceptors = splice_sites(transcripts)
    if len(donors) == 0:
        raise InputError(task.annotation, "no multi-exon transcripts: no splice sites")
    sites = [(donors, "donor"), (acceptors, "acceptor")]
    n_sites = len(donors) + len(acceptors)
    ns = task.nonsplice
    total = int(round(ns.ratio * n_sites))
    n_decoy = int(round(ns.decoy_fraction * total))
    spans = gene_spans(transcripts)
    rng = ctx.rng("nonsplice")
    true_sites = Sites(np.concatenate([donors.chrom, acceptors.chrom]), np.concatenate([donors.pos, acceptors.pos]),
                       np.concatenate([donors.strand, acceptors.strand]), np.concatenate([donors.name, acceptors.name]))
    wanted = {"decoy_GT": n_decoy // 2, "decoy_AG": n_decoy - n_decoy // 2, "nonsplice": total - n_decoy}
    for kind, count in wanted.items():
        decoy = kind[-2:] if kind.startswith("decoy") else None
        # Oversample: some fall near true sites or fail the window filters.
        found = sample_gene_positions(spans, 2 * count, rng, ctx.genome, decoy)
        far = distance_to_nearest(found, true_sites) > ns.min_distance
        found = found.take(np.flatnonzero(far)[:count] if far.sum() <= count else
                           np.sort(rng.choice(np.flatnonzero(far), size=count, replace=False)))
        if len(found) < count:
            log.warning("%s: only %d of %d %s positions found", task.name, len(found), count, kind)
        sites.append((found, kind))
    windows = Intervals.concat([boundary_windows(s, task.window) for s, _ in sites])
    check_window(windows, ctx.genome.sizes, f"tasks.{task.name}.window")
    kinds = np.concatenate([np.full(len(s), k, dtype=object) for s, k in sites])
    labels = np.array([SPLICE_LABELS.get(k, 0) for k in kinds], dtype=np.int64)
    rows, _ = _positive_rows(ctx, windows, task.max_n_fraction, labels, kinds, f"{task.name} splice windows")
    _require_positives(rows.split[rows.label > 0], ctx, "splice sites")
    return [rows]


def build_table(task: TableTask, seed: int) -> list[Rows]:
    out: list[Rows] = []
    pooled: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray]] = []
    tables = [read_table(spec.path, spec.format, spec.label) for spec in task.files]
    table_labels(tables)
    for spec, table in zip(task.files, tables):
        src = np.full(len(table), spec.source or Path(spec.path).name, dtype=object)
        names = np.array(table.names, dtype=object)
        labels = np.array(table.labels, dtype=np.int64)
        if spec.split:
            out.append(Rows(table.sequences, labels, None, names, src, np.full(len(table), spec.split)))
        else:
            pooled.append((table.sequences, labels, names, src))
    if pooled:
        seqs = [s for p in pooled for s in p[0]]
        split = random_split(seqs, task.dev, task.test, task_rng(seed, task.name, "random_split"))
        out.append(Rows(seqs, np.concatenate([p[1] for p in pooled]), None, np.concatenate([p[2] for p in pooled]),
                        np.concatenate([p[3] for p in pooled]), split))
    return out


def build_coordinates(task: CoordinatesTask, genome: GenomeSequence, splits: ChromosomeSplits) -> list[Rows]:
    """Labelled intervals cut from the genome: the files' own splits, the chromosome hold-out for files
    without one, and a seeded dev split carved from train (``dev_fraction``) when no row is in dev."""
    files = [coords.read_regions(spec.path, spec.format, spec.class_name) for spec in task.files]
    for regions in files:
        coords.check_in_genome(regions, genome.sizes, genome.path)
    labels = coords.class_labels(files, task.classes, field=f"tasks.{task.name}.classes")
    regions = Intervals.concat([r.intervals for r in files])
    split = np.concatenate([np.full(len(r), spec.split, dtype="<U5") if spec.split else
                            splits.split_of(r.intervals.chrom) for spec, r in zip(task.files, files)])
    sequences = genome.sequences(regions)
    if not (split == "dev").any() and task.dev_fraction > 0:
        train = np.flatnonzero(split == "train")
        carved = random_split([sequences[i] for i in train.tolist()], task.dev_fraction, 0.0,
                              task_rng(splits.seed, task.name, "dev_split"))
        split[train] = carved
        log.info("%s: dev split carved from train: %d of %d rows (dev_fraction %g)", task.name,
                 int((carved == "dev").sum()), len(train), task.dev_fraction)
    classes = np.concatenate([r.classes for r in files])
    return [Rows(sequences, np.array([labels[c] for c in classes.tolist()], dtype=np.int64), regions,
                 np.concatenate([r.ids for r in files]), classes, split)]


def assemble(parts: list[Rows], seed: int, task: str, dedup: str = "all") -> tuple[dict[str, pd.DataFrame], dict]:
    """Concatenate rows, remove repeated sequences by the ``dedup`` policy, shuffle each split reproducibly.

    Returns the splits and the duplicates report (:func:`dnabert.data.duplicates.deduplicate`).
    """
    frame = pd.concat([p.frame() for p in parts], ignore_index=True)
    frame, report = deduplicate(frame, dedup, task)
    out = {}
    for name in SPLITS:
        part = frame[frame["split"] == name].drop(columns="split")
        order = task_rng(seed, task, f"order_{name}").permutation(len(part))
        out[name] = part.iloc[order].reset_index(drop=True)
    if out["train"].empty:
        raise InputError(None, "the train split is empty", field=f"tasks.{task}")
    for name in ("dev", "test"):
        if out[name].empty:
            log.warning("%s: the %s split is empty", task, name)
    return out, report


def check_classes(frames: Mapping[str, pd.DataFrame], task: str, field: str, what: str) -> None:
    """Labels 0..C-1 with C >= 2 and every class in train; else an InputError naming ``field``.

    ``what`` names label 0 for the task (e.g. 'negatives (label 0)'). Table and coordinate
    tasks check their files first, naming file and line.
    """
    present = sorted(set().union(*(set(frame["label"].tolist()) for frame in frames.values())))
    if 0 not in present:
        raise InputError(None, f"the dataset has no {what}: every row has label {' or '.join(map(str, present))}",
                         field=field)  # fmt: skip
    if len(present) < 2:
        raise InputError(None, "the dataset has one class only (every row has label 0): a classifier needs two",
                         field=field)  # fmt: skip
    missing = sorted(set(range(present[-1] + 1)) - set(present))
    if missing:
        raise InputError(None, f"labels must be 0..C-1: label {missing[0]} never occurs "
                               f"(labels: {', '.join(map(str, present))})", field=field)  # fmt: skip
    absent = sorted(set(present) - set(frames["train"]["label"].tolist()))
    if absent:
        raise InputError(None, f"the train split has no row with label {', '.join(map(str, absent))} (it occurs "
                               "only in dev or test)", field=field)  # fmt: skip
    for name in ("dev", "test"):
        if len(frames[name]) and frames[name]["label"].nunique() < 2:
            log.warning("%s: the %s split has one class only: its metrics will be undefined", task, name)


def write_splits(frames: Mapping[str, pd.DataFrame], paths: Mapping[str, PathLike],
                 report: Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Write ``{train,dev,test}.tsv.gz`` (deterministic gzip), and ``paths['duplicates']`` (JSON) if given.

    All appear together or none does.
    """
    import gzip

    with contextlib.ExitStack() as stack:
        for name in SPLITS:
            tmp = stack.enter_context(atomic_path(paths[name]))
            text = frames[name].to_csv(sep="\t", index=False, columns=list(COLUMNS), na_rep="", lineterminator="\n")
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6,
                                                        mtime=0) as gz:
                gz.write(text.encode("ascii"))
        if paths.get("duplicates") is not None:
            tmp = stack.enter_context(atomic_path(paths["duplicates"]))
            tmp.write_text(json.dumps(report or {}, indent=2, sort_keys=True) + "\n")


#: Per task type: the config field named when a class is missing, and what that class most likely is.
_CLASS_CHECK = {PeaksTask: ("negatives", "negatives (label 0)"), PromotersTask: ("negatives", "negatives (label 0)"),
                SpliceTask: ("nonsplice", "non-splice windows (label 0)")}


def build_dataset(
    task: str, cfg: Mapping[str, Any], files: Mapping[str, str], splits_cfg: Mapping[str, Any],
    outputs: Mapping[str, PathLike], genome: PathLike | None = None, blacklist: PathLike | None = None,
) -> dict[str, pd.DataFrame]:
    """Build one configured task and write its three splits (and, with ``outputs['duplicates']``, its duplicates report)."""
    settings = task_from_config(task, cfg, files)
    splits = ChromosomeSplits.from_config(splits_cfg)
    dedup = "all"
    if isinstance(settings, TableTask):
        parts = build_table(settings, splits.seed)
        dedup = resolve_policy(settings.dedup, settings.given_splits)
    else:
        if genome is None:
            raise ValueError(f"task {task} needs the genome")
        with GenomeSequence(genome) as fasta:
            if isinstance(settings, CoordinatesTask):
                if not all(spec.split for spec in settings.files):
                    splits.check_genome(fasta.sizes, genome)
                parts = build_coordinates(settings, fasta, splits)
                dedup = resolve_policy(settings.dedup, settings.given_splits)
            else:
                splits.check_genome(fasta.sizes, genome)
                index = IntervalIndex.from_bed(blacklist) if blacklist else IntervalIndex()
                ctx = Genomic(fasta, index, splits, task)
                builder = {PeaksTask: build_peaks, PromotersTask: build_promoters, SpliceTask: build_splice}
                parts = builder[type(settings)](settings, ctx)
    frames, report = assemble(parts, splits.seed, task, dedup)
    field, what = _CLASS_CHECK.get(type(settings), ("", "rows with label 0"))
    check_classes(frames, task, f"tasks.{task}.{field}" if field else f"tasks.{task}", what)
    write_splits(frames, outputs, report)
    for name, frame in frames.items():
        counts = frame.groupby(["label", "source"]).size()
        log.info("%s %s: %d rows (%s)", task, name, len(frame),
                 ", ".join(f"label {lab} {src}: {n}" for (lab, src), n in counts.items()))
    return frames


def read_dataset(path: PathLike) -> pd.DataFrame:
    """Read a dataset TSV written by :func:`write_splits` (blank coordinates as missing values)."""
    frame = pd.read_csv(path, sep="\t", dtype={"sequence": str, "chrom": str, "strand": str, "name": str,
                                               "source": str, "label": np.int64},
                        keep_default_na=False, na_values={"start": [""], "end": [""]})
    if list(frame.columns) != list(COLUMNS):
        raise InputError(path, f"expected columns {' '.join(COLUMNS)}, got {' '.join(frame.columns)}", line=1)
    for column in ("start", "end"):
        frame[column] = frame[column].astype("Int64")
    return frame
