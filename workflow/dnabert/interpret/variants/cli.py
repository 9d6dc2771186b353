"""Command line ``python -m dnabert.interpret.variants {ism,vcf,mutations} ...``: argument parsing and dispatch."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import dnabert.interpret.variants as package
from dnabert.interpret.variants.mutagenesis import ism_file
from dnabert.interpret.variants.mutations import score_mutation_file
from dnabert.interpret.variants.vcf import ON_MISMATCH, score_vcf_file
from dnabert.io import InputError

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dnabert.interpret.variants",
                                     description=package.__doc__.split("\n\n")[0])  # fmt: skip
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, type=Path, help="fine-tuned model directory "
                        "(results/finetune/{task}/seed{seed}/model)")  # fmt: skip
    common.add_argument("--target-class", type=int, default=1, help="class whose probability is compared (default 1)")
    common.add_argument("--batch-size", type=int, default=128)
    common.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    common.add_argument("--threads", type=int, default=None)
    commands = parser.add_subparsers(dest="command", required=True)

    ism_parser = commands.add_parser("ism", parents=[common], help="in-silico mutagenesis heatmaps")
    source = ism_parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", type=Path, help="sequences to mutate (FASTA, plain or gzipped)")
    source.add_argument("--dataset", type=Path, help="dataset TSV(.gz) with sequence and label columns")
    ism_parser.add_argument("--top", type=int, default=None,
                            help="take the N best-scoring positives (default: 10 with --dataset, all with --fasta)")
    ism_parser.add_argument("--out-tsv", required=True, type=Path)
    ism_parser.add_argument("--out-png", type=Path, default=None)

    vcf_parser = commands.add_parser("vcf", parents=[common], help="score the SNVs of a VCF")
    vcf_parser.add_argument("--vcf", required=True, type=Path, help="VCF, plain or gzipped")
    vcf_parser.add_argument("--genome", required=True, type=Path, help="indexed genome FASTA (.fai; .gzi if bgzipped)")
    vcf_parser.add_argument("--window", type=int, default=None,
                            help="bp around each variant (default: the model's input, 510 + k - 1; "
                                 "best: the length the model was fine-tuned on)")  # fmt: skip
    vcf_parser.add_argument("--on-mismatch", choices=ON_MISMATCH, default="flag",
                            help="REF differs from the genome etc.: flag the row (default) or stop with an error")
    vcf_parser.add_argument("--out", required=True, type=Path)

    mut_parser = commands.add_parser("mutations", parents=[common], help="score a DNABERT mutation file")
    mut_parser.add_argument("--sequences", required=True, type=Path, help="dataset TSV(.gz) or DNABERT k-mer TSV")
    mut_parser.add_argument("--mutations", required=True, type=Path, help="idx start end replacement per line")
    mut_parser.add_argument("--out", required=True, type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    common = {"target_class": args.target_class, "batch_size": args.batch_size, "device": args.device,
              "threads": args.threads}  # fmt: skip
    try:
        if args.command == "ism":
            top = args.top if args.top is not None else (10 if args.dataset is not None else None)
            ism_file(args.model, args.out_tsv, args.out_png, fasta=args.fasta, dataset=args.dataset, top=top,
                     **common)  # fmt: skip
        elif args.command == "vcf":
            score_vcf_file(args.model, args.vcf, args.genome, args.out, window=args.window,
                           on_mismatch=args.on_mismatch, **common)  # fmt: skip
        else:
            score_mutation_file(args.model, args.sequences, args.mutations, args.out, **common)
    except InputError as err:
        log.error("%s", err)
        return 2
    return 0
