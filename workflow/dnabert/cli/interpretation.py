"""``dnabert attention``, ``dnabert motifs`` and ``dnabert ism``: what a model looks at in your sequences.

``dnabert motifs`` maps its options onto :class:`dnabert.interpret.settings.InterpretSettings`
(the ``interpret:`` config keys) and runs the stage's steps through
:func:`dnabert.interpret.fasta.motifs_file`: ``--layer``/``--heads`` are
``interpret.attention.layer``/``heads`` (``auto`` chosen on the same sequences, as a FASTA
pair has no dev split), ``--engine`` picks ``interpret.engines``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dnabert.cli.common import ENGINES, add_command, heads, non_negative, output, positive, progress, runtime


def register(commands) -> None:
    """Add the subcommands to the ``dnabert`` parser."""
    parser = add_command(commands, "attention", "DNABERT's per-nucleotide attention of sequences",
                         "The [CLS] row of one layer's attention, summed over heads, each k-mer's value spread\n"
                         "over its bases, unit norm per sequence. Writes OUT (.npz, read by numpy without pickle:\n"
                         "the interpretation stage's scores.npz), and optionally a long TSV and a heatmap.",
                         "dnabert attention --model results/finetune/ctcf/seed1/model --fasta seqs.fa "
                         "--out attention.npz --tsv attention.tsv --heatmap attention.png")  # fmt: skip
    parser.add_argument("--fasta", required=True, type=Path, help="sequences (FASTA, plain or gzipped)")
    _attention_options(parser)
    parser.add_argument("--out", required=True, type=Path, help="output .npz")
    parser.add_argument("--tsv", type=Path, default=None, help="also a TSV: id position base attention")
    parser.add_argument("--heatmap", type=Path, default=None, help="also a heatmap (PNG)")
    parser.set_defaults(run=run_attention)

    parser = add_command(commands, "motifs", "motifs a fine-tuned model attends to: MEME, TSV, logos, TOMTOM vs JASPAR",
                         "The interpretation stage's own steps on your sequences, as the workflow runs them:\n"
                         "1. scoring: the positives (label 1) and negatives (label 0) in OUT/sequences.tsv, the\n"
                         "   layer and heads of the [CLS] attention, every sequence's per-nucleotide attention, and\n"
                         "   integrated gradients of a sample of positives -> OUT/scores.npz, OUT/attention/\n"
                         "   (selection.tsv, agreement.tsv, heatmap.png, profile.png). A FASTA pair has no dev\n"
                         "   split: --layer/--heads auto are chosen on these same sequences (every layer x head's\n"
                         "   AUROC in selection.tsv); a layer index and a head list are used as given.\n"
                         "2. motifs, per engine: attention (DNABERT's high-attention regions enriched in the\n"
                         "   positives, hypergeometric test with Benjamini-Hochberg) and/or modisco (TF-MoDISco on\n"
                         "   the integrated gradients), then TOMTOM against JASPAR (bundled offline). Writes\n"
                         "   OUT/<engine>/: motifs.meme, motifs.tsv, instances.tsv, instances.bed, logos/,\n"
                         "   tomtom.tsv, logos.png, motifs.html (the workflow's results/interpret/<task>/seed<n>/).",
                         "dnabert motifs --model results/finetune/ctcf/seed1/model --positives peaks.fa "
                         "--negatives background.fa --out motifs/", batch_size=64,
                         model_help="fine-tuned model directory (results/finetune/<task>/seed1/model) or Hub id")  # fmt: skip
    parser.add_argument("--positives", required=True, type=Path, help="sequences with the motifs (FASTA)")
    parser.add_argument("--negatives", required=True, type=Path, help="background sequences (FASTA)")
    parser.add_argument("--engine", choices=(*ENGINES, "both"), default="attention",
                        help="motif engine(s): attention, modisco, or both")
    parser.add_argument("--layer", type=layer_choice, default="auto",
                        help="encoder layer of the attention: auto (chosen on these sequences) or an index (-1: last)")
    parser.add_argument("--heads", type=head_choice, default="auto",
                        help="heads summed: auto (chosen on these sequences), all (DNABERT), or e.g. 0,3")
    parser.add_argument("--selection-sequences", type=positive, default=200,
                        help="sequences per class (sampled) the auto layer/heads are chosen on")
    parser.add_argument("--max-sequences", type=positive, default=10000, help="at most this many per class (sampled)")
    parser.add_argument("--attribution-sequences", type=non_negative, default=200,
                        help="positives (sampled) given integrated gradients: the modisco engine's input (0: none)")
    parser.add_argument("--attribution-steps", type=positive, default=4, help="integration steps per baseline")
    parser.add_argument("--window", type=positive, default=24,
                        help="attention engine: motif window (bp) around each instance")
    parser.add_argument("--min-len", type=positive, default=5,
                        help="attention engine: shortest high-attention region (bp)")
    parser.add_argument("--pval-cutoff", type=float, default=0.005,
                        help="attention engine: BH-adjusted hypergeometric p-value cut-off")
    parser.add_argument("--min-n-motif", type=positive, default=3, help="attention engine: fewest instances of a motif")
    parser.add_argument("--min-seqlets", type=positive, default=10, help="modisco engine: fewest seqlets of a pattern")
    parser.add_argument("--jaspar-release", default="JASPAR2024", help="JASPAR release for TOMTOM (pyjaspar)")
    parser.add_argument("--tax-group", default="vertebrates", help="JASPAR taxonomic group")
    parser.add_argument("--qvalue", type=float, default=0.05, help="TOMTOM q-value that counts as a match")
    parser.add_argument("--seed", type=int, default=0, help="seed of every sample (default: %(default)s)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.set_defaults(run=run_motifs)

    parser = add_command(commands, "ism", "in-silico mutagenesis: every substitution's effect on a class",
                         "Every position x the 3 other bases, scored against the reference: delta_prob and\n"
                         "log_odds_ratio of --target-class. Table (TSV) and optionally a heatmap.",
                         "dnabert ism --model results/finetune/ctcf/seed1/model --fasta seqs.fa --out ism.tsv "
                         "--plot ism.png", batch_size=128,
                         model_help="fine-tuned model directory (results/finetune/<task>/seed1/model) or Hub id")  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", type=Path, help="sequences to mutate (FASTA, plain or gzipped)")
    source.add_argument("--dataset", type=Path, help="dataset TSV(.gz) with sequence and label columns")
    parser.add_argument("--top", type=positive, default=None,
                        help="the N best-scoring positives (default: 10 with --dataset, every record with --fasta)")
    parser.add_argument("--target-class", type=int, default=1, help="class whose probability is compared")
    parser.add_argument("--out", required=True, type=Path, help="output TSV")
    parser.add_argument("--plot", type=Path, default=None, help="also a heatmap (PNG)")
    parser.set_defaults(run=run_ism)


def _attention_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", type=int, default=-1, help="encoder layer (-1: the last, as DNABERT)")
    parser.add_argument("--heads", type=heads, default=None, help="heads to sum, e.g. 0,3 (default: all)")


def layer_choice(text: str) -> int | str:
    """An argparse type: ``auto`` or a layer index."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a layer index, got {text!r}") from None


def head_choice(text: str) -> str | tuple[int, ...]:
    """An argparse type: ``auto``, ``all`` or comma-separated head indices."""
    return text if text in ("auto", "all") else heads(text)


def run_attention(args: argparse.Namespace) -> None:
    from dnabert.interpret.fasta import attention_file

    attention_file(args.model, args.fasta, output(args.out), tsv_out=args.tsv, heatmap_out=args.heatmap,
                   layer=args.layer, heads=args.heads, progress=progress(args), **runtime(args))  # fmt: skip


def run_motifs(args: argparse.Namespace) -> None:
    from dnabert.interpret.fasta import motifs_file
    from dnabert.interpret.heads import HeadSettings
    from dnabert.interpret.settings import InterpretSettings

    progress(args)  # the stage shows its own progress bars
    options = runtime(args)
    settings = InterpretSettings(
        splits=("fasta",), max_sequences=args.max_sequences, batch_size=options.pop("batch_size"),
        heads=HeadSettings(layer=args.layer, heads=args.heads), selection_sequences=args.selection_sequences,
        attribution_sequences=args.attribution_sequences, attribution_steps=args.attribution_steps,
        motifs={"window": args.window, "min_len": args.min_len, "pval_cutoff": args.pval_cutoff,
                "min_n_motif": args.min_n_motif},
        modisco={"final_min_cluster_size": args.min_seqlets},
        jaspar={"release": args.jaspar_release, "collection": "CORE", "tax_group": args.tax_group},
        qvalue=args.qvalue, seed=args.seed,
    )  # fmt: skip
    engines = ENGINES if args.engine == "both" else (args.engine,)
    motifs_file(args.model, args.positives, args.negatives, args.out, settings, engines=engines,
                name=args.positives.stem, **options)  # fmt: skip


def run_ism(args: argparse.Namespace) -> None:
    from dnabert.interpret.variants.mutagenesis import ism_file

    top = args.top if args.top is not None else (10 if args.dataset is not None else None)
    ism_file(args.model, output(args.out), args.plot, fasta=args.fasta, dataset=args.dataset, top=top,
             target_class=args.target_class, progress=progress(args), **runtime(args))  # fmt: skip
