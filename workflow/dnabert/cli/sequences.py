"""``dnabert tokenize``, ``dnabert predict`` and ``dnabert embed``: sequences in, tokens, scores or vectors out."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnabert.cli.common import AGGREGATES, OVERFLOWS, POOLINGS, add_command, output, progress, runtime
from dnabert.io import InputError


def register(commands) -> None:
    """Add the subcommands to the ``dnabert`` parser."""
    parser = add_command(commands, "tokenize", "FASTA -> k-mer token ids per model input (TSV)",
                         "One row per record, or per 510-k-mer window of a longer record (--overflow split):\n"
                         "id window start kmers tokens. Ids are those of DNABERT's vocab.txt ([CLS]=2, [SEP]=3).",
                         "dnabert tokenize --fasta seqs.fa --k 6 --out tokens.tsv", batch_size=None,
                         model_help="")  # fmt: skip
    parser.add_argument("--fasta", required=True, type=Path, help="sequences (FASTA, plain or gzipped)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--k", type=int, choices=range(3, 7), metavar="{3,4,5,6}", help="k-mer length")
    which.add_argument("--model", metavar="DIR|HUB_ID", help="take k from this model")
    parser.add_argument("--overflow", choices=OVERFLOWS, default="split",
                        help="records over 510 k-mers: split into windows, truncate, or error")
    parser.add_argument("--format", dest="fmt", choices=("ids", "kmers"), default="ids",
                        help="tokens as ids or as k-mer text")
    parser.add_argument("--out", type=Path, default=Path("-"), help="output TSV (- : standard output)")
    parser.set_defaults(run=run_tokenize)

    parser = add_command(commands, "predict", "class probabilities of sequences from a fine-tuned model",
                         "FASTA records, or BED intervals fetched from an indexed genome (minus strand reverse-\n"
                         "complemented). Output TSV: id [chrom start end strand] length windows predicted prob_0 ...\n"
                         "Sequences over 510 k-mers are scored in windows, combined by --aggregate.",
                         "dnabert predict --model results/finetune/ctcf/seed1/model --fasta seqs.fa --out scores.tsv",
                         batch_size=128, model_help="fine-tuned model directory (results/finetune/<task>/seed1/model)"
                         " or Hub id")  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", type=Path, help="sequences to score (FASTA, plain or gzipped)")
    source.add_argument("--bed", type=Path, help="intervals to score (BED; strand in column 6); needs --genome")
    parser.add_argument("--genome", type=Path, help="indexed genome FASTA (.fai; .gzi if bgzipped) for --bed")
    parser.add_argument("--aggregate", choices=AGGREGATES, default="mean", help="how window scores are combined")
    parser.add_argument("--out", required=True, type=Path, help="output TSV")
    parser.set_defaults(run=run_predict)

    parser = add_command(commands, "embed", "sequence embeddings from any layer ([CLS], mean, or per nucleotide)",
                         "cls: the [CLS] vector; mean: the mean over k-mer tokens (padding, [CLS], [SEP] left out);\n"
                         "nucleotide: one vector per base (each k-mer's vector spread over its k bases).\n"
                         "--layer indexes hidden_states: 0 = embedding layer, -1 = last layer. Writes OUT (.npy,\n"
                         "float32) and an index TSV (index id length windows [label] [row_start row_end]).",
                         "dnabert embed --model results/pretrain/model --fasta seqs.fa --pooling mean --out emb.npy")  # fmt: skip
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", type=Path, help="sequences (FASTA, plain or gzipped)")
    source.add_argument("--dataset", type=Path, help="a dataset TSV(.gz) with sequence and label columns")
    parser.add_argument("--pooling", choices=POOLINGS, default="mean", help="how token vectors are pooled")
    parser.add_argument("--layer", type=int, default=-1, help="hidden_states index (0: embeddings, -1: last layer)")
    parser.add_argument("--out", required=True, type=Path, help="output .npy")
    parser.add_argument("--index", type=Path, default=None, help="index TSV (default: OUT with .index.tsv)")
    parser.add_argument("--plot", type=Path, default=None, help="also a 2-D PCA plot (PNG), coloured by label")
    parser.set_defaults(run=run_embed)


def run_tokenize(args: argparse.Namespace) -> None:
    from dnabert.lm.tokens import tokenize_file

    k = args.k
    if k is None:
        from dnabert.lm.hub import resolve_model
        from dnabert.lm.models import infer_k, read_config

        directory = resolve_model(args.model)
        k = infer_k(directory, read_config(directory)[0])
    tokenize_file(args.fasta, args.out if str(args.out) == "-" else output(args.out), k, overflow=args.overflow,
                  fmt=args.fmt)  # fmt: skip


def run_predict(args: argparse.Namespace) -> None:
    from dnabert.lm.predict import predict_file

    if args.bed is not None and args.genome is None:
        raise InputError(args.bed, "BED input needs the genome: add --genome", field="--genome")
    predict_file(args.model, output(args.out), fasta=args.fasta, bed=args.bed, genome=args.genome,
                 aggregate=args.aggregate, progress=progress(args), **runtime(args))  # fmt: skip


def run_embed(args: argparse.Namespace) -> None:
    from dnabert.lm.embeddings import embed_file

    index = args.index or args.out.with_name(args.out.name.removesuffix(".npy") + ".index.tsv")
    embed_file(args.model, output(args.out), output(index), fasta=args.fasta, dataset=args.dataset,
               pooling=args.pooling, layer=args.layer, projection_out=args.plot, progress=progress(args),
               **runtime(args))  # fmt: skip
