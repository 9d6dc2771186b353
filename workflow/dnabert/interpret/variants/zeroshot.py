"""Zero-shot variant effects from a pretrained masked LM: the masked marginal log-likelihood ratio.

No fine-tuning, no labels: the pretrained k-mer BERT itself says how much it
prefers the alternative base to the reference one in its genomic context (the
"masked marginal" score of protein and DNA language models, e.g. ESM-1v, GPN,
adapted to overlapping k-mers). For an SNV at window position ``o`` (a window of
``window`` bp centred on it, ``+`` strand, REF checked against the genome):

1. tokenise the reference window into overlapping k-mers ``t_0 .. t_{n-1}`` (``t_j``
   covers bases ``j .. j+k-1``), so the site is inside the k k-mers ``j = o-k+1 .. o``;
2. replace exactly those k tokens by ``[MASK]``, the span DNABERT's pretraining masks
   around a centre, so no unmasked token contains the site (its neighbours stay visible
   through the tokens on either side), and run the model once;
3. at each masked position ``j`` take the MLM head's log-probabilities over the ``4^k``
   k-mer tokens (special tokens left out, renormalised) and read those of the k-mer
   ``t_j`` with base ``b`` at the site, for each base ``b``:
   ``S(b) = sum_j log p_j(t_j with b at the site)``;
4. ``llr = S(alt) - S(ref)``: negative where the model finds the ALT allele less likely
   than the reference in this context.

Because the masked input does not depend on the site's base, scoring the ALT
genome's allele against REF gives exactly ``-llr`` (sign flip), and ``S(ref) -
S(ref) = 0``. Positions whose k-mer holds an N elsewhere (``[UNK]``) are left out of
the sum; ``kmers`` says how many were summed (k unless near an N). All alleles of a
site share its one forward pass; the MLM head runs at the masked positions only.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.interpret.variants.tables import write_tsv
from dnabert.interpret.variants.vcf import (
    ON_MISMATCH,
    Checked,
    ReferenceWindows,
    VcfVariant,
    check_width,
    log_summary,
    max_window,
    open_genome,
    read_vcf,
)
from dnabert.interpret.variants.windows import centred
from dnabert.io import InputError, PathLike
from dnabert.lm import kmer
from dnabert.lm.inference import Autocast

log = logging.getLogger(__name__)

ZEROSHOT_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "status", "window_start", "window_end", "kmers",
                    "logp_ref", "logp_alt", "llr")  # fmt: skip
SITE_CHUNK = 1024  # distinct sites per pass of the VCF
BASE_ORDER = "ACGT"  # column order of site_scores


def _mlm_log_probs(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   positions: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Log-probabilities over the k-mer tokens at ``positions`` (rows x k), the MLM head applied there only."""
    hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None]
    logits = model.cls(hidden[rows, positions]).float()  # rows x k x vocab
    return torch.log_softmax(logits[..., kmer.N_SPECIAL :], dim=-1)


@torch.inference_mode()
def site_scores(
    model: nn.Module,
    k: int,
    windows: list[str],
    offsets: np.ndarray,
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``S(b)`` for b in A, C, G, T at each window's site (``rows x 4``), and the k-mers summed per row.

    ``windows`` are reference sequences (all fitting one model input), ``offsets`` the site's index in each.
    """
    device = device or next(model.parameters()).device
    offsets = np.asarray(offsets, dtype=np.int64)
    scores = np.zeros((len(windows), 4))
    used = np.zeros(len(windows), dtype=np.int64)
    powers = 4 ** (k - 1 - np.arange(k))  # place value of each base within a k-mer id
    alt_codes = kmer.base_codes(BASE_ORDER).astype(np.int64)
    was_training = model.training
    model.eval()
    starts = range(0, len(windows), batch_size)
    try:
        for start in tqdm(starts, desc="zero-shot", unit="batch", disable=not progress, mininterval=5):
            stop = min(start + batch_size, len(windows))
            batch = kmer.encode_batch(windows[start:stop], k, overflow="error")
            ids = batch.input_ids
            n_kmers = batch.attention_mask.sum(axis=1) - 2
            first = offsets[start:stop, None] - k + 1 + np.arange(k)[None, :]  # covering k-mers (rows x k)
            inside = (first >= 0) & (first < n_kmers[:, None])
            token = np.clip(first, 0, (n_kmers - 1)[:, None]) + 1
            rows = np.arange(stop - start)[:, None]
            ref_ids = ids[rows, token].astype(np.int64)
            valid = inside & (ref_ids >= kmer.N_SPECIAL)
            site_in_kmer = offsets[start:stop, None] - first  # the site's index within each k-mer
            masked = ids.copy()
            masked[rows, token] = np.where(inside, kmer.MASK_ID, masked[rows, token])
            with autocast():
                logp = _mlm_log_probs(model, torch.from_numpy(masked).to(device),
                                      torch.from_numpy(batch.attention_mask).to(device),
                                      torch.from_numpy(token).to(device)).cpu().numpy()  # fmt: skip
            ref_codes = kmer.base_codes(np.frombuffer("".join(w[o] for w, o in zip(windows[start:stop],
                                        offsets[start:stop])).encode("ascii"), dtype=np.uint8)).astype(np.int64)  # fmt: skip
            place = powers[np.clip(site_in_kmer, 0, k - 1)]
            for column, code in enumerate(alt_codes):
                kmer_ids = np.where(valid, ref_ids + (code - ref_codes[:, None]) * place, kmer.N_SPECIAL)
                picked = np.take_along_axis(logp, (kmer_ids - kmer.N_SPECIAL)[..., None], axis=2)[..., 0]
                scores[start:stop, column] = np.where(valid, picked, 0.0).sum(axis=1)
            used[start:stop] = valid.sum(axis=1)
    finally:
        model.train(was_training)
    return scores, used


@dataclass
class _Sites:
    """Alleles waiting for their site's forward pass (one pass per distinct site)."""

    table: list[dict]
    windows: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    alleles: list[tuple[int, tuple[str, int], str, str]] = field(default_factory=list)  # (row, site, ref, alt)

    def add(self, row: int, variant: VcfVariant, checked: Checked) -> None:
        site = (variant.chrom, variant.pos)
        self.windows.setdefault(site, (checked.sequence, checked.placement.offset))
        self.alleles.append((row, site, checked.ref, checked.alt))

    def flush(self, score) -> None:
        sites = list(self.windows)
        values, used = score([self.windows[s][0] for s in sites], np.array([self.windows[s][1] for s in sites]))
        index = {site: i for i, site in enumerate(sites)}
        for row, site, ref, alt in self.alleles:
            i = index[site]
            s_ref, s_alt = values[i, BASE_ORDER.index(ref)], values[i, BASE_ORDER.index(alt)]
            self.table[row].update(kmers=int(used[i]), logp_ref=s_ref, logp_alt=s_alt, llr=s_alt - s_ref)
        self.windows.clear()
        self.alleles.clear()


def score_vcf_zeroshot(
    model: nn.Module,
    k: int,
    vcf_path: PathLike,
    genome_fasta: PathLike,
    *,
    window: int,
    on_mismatch: str = "flag",
    batch_size: int = 64,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """Zero-shot scores of every SNV of a VCF (columns :data:`ZEROSHOT_COLUMNS`, one row per ALT allele)."""
    if on_mismatch not in ON_MISMATCH:
        raise ValueError(f"on_mismatch must be one of {', '.join(ON_MISMATCH)}, got {on_mismatch!r}")
    check_width(model, k, window)
    if window < 2 * k - 1:
        raise InputError(None, f"must be at least 2k - 1 = {2 * k - 1} bp so that all k k-mers over the site fit",
                         field="window")  # fmt: skip
    vcf_path, genome_path = Path(vcf_path), Path(genome_fasta)
    rows: list[dict] = []
    pending = _Sites(rows)
    unknown: dict[str, int] = {}

    def score(windows: list[str], offsets: np.ndarray):
        return site_scores(model, k, windows, offsets, batch_size=batch_size, device=device, autocast=autocast)

    bar = tqdm(desc="zero-shot", unit="variant", disable=not progress, mininterval=5)
    with bar, open_genome(genome_path) as fasta:
        windows = ReferenceWindows(fasta, genome_path, vcf_path, centred(window), strict=on_mismatch == "error")
        for variant in read_vcf(vcf_path):
            checked = windows.check(variant)
            place = checked.placement
            rows.append({"chrom": variant.chrom, "pos": variant.pos, "id": variant.id, "ref": variant.ref,
                         "alt": variant.alt, "status": checked.status,
                         "window_start": place.start if place else None, "window_end": place.end if place else None})  # fmt: skip
            if checked.status == "unknown_chrom":
                unknown[variant.chrom] = unknown.get(variant.chrom, 0) + 1
            if checked.status == "ok":
                pending.add(len(rows) - 1, variant, checked)
                if len(pending.windows) >= SITE_CHUNK:
                    bar.update(len(pending.alleles))
                    pending.flush(score)
        if pending.alleles:
            bar.update(len(pending.alleles))
            pending.flush(score)
    table = pd.DataFrame(rows, columns=list(ZEROSHOT_COLUMNS))
    for column in ("window_start", "window_end", "kmers"):
        table[column] = table[column].astype("Int64")
    log_summary(vcf_path, genome_path, unknown, table, list(windows.sizes))
    scored = table["llr"].dropna()
    if len(scored):
        log.info("zero-shot llr over %d alleles: median %.3f, %d below 0", len(scored), scored.median(),
                 int((scored < 0).sum()))  # fmt: skip
    return table


def load_masked_lm(model_dir: PathLike, device: str = "auto", threads: int | None = None):
    """A pretrained masked LM with its MLM head (a fine-tuned classifier is refused): ``(model, k, device)``."""
    from dnabert.lm.inference import is_classifier
    from dnabert.lm.models import load_pretrained
    from dnabert.lm.training import resolve_device

    if threads:
        torch.set_num_threads(threads)
    if is_classifier(model_dir):
        raise InputError(Path(model_dir) / "config.json", "a fine-tuned classifier has no masked-LM head: zero-shot "
                         "scores need the pretrained model (e.g. results/pretrain/model, a DNABERT release or "
                         "a Hub id)", field="architectures")  # fmt: skip
    model, k = load_pretrained(model_dir, require_head=True)
    torch_device = resolve_device(device)
    return model.to(torch_device).eval(), k, torch_device


def zeroshot_file(
    model_dir: PathLike,
    vcf: PathLike,
    genome: PathLike,
    out: PathLike,
    *,
    window: int | None = None,
    on_mismatch: str = "flag",
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`score_vcf_zeroshot` with a model directory or Hub id; ``window`` defaults to the model's input."""
    from dnabert.lm.training import autocast_for

    progress = sys.stderr.isatty() if progress is None else progress
    model, k, torch_device = load_masked_lm(model_dir, device, threads)
    autocast, _ = autocast_for(torch_device, precision)
    table = score_vcf_zeroshot(model, k, vcf, genome, window=window or max_window(model, k), on_mismatch=on_mismatch,
                               batch_size=batch_size, device=torch_device, autocast=autocast, progress=progress)  # fmt: skip
    write_tsv(table, out)
    return table
