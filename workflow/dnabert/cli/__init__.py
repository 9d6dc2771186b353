"""The ``dnabert`` command: a model and your sequences, without Snakemake.

``dnabert <subcommand> --help`` shows each one's options and an example. The
subcommands only parse arguments and call the functions the workflow's rules call:

======================  =====================================================================
``tokenize``            FASTA -> k-mer token ids (or k-mers) per model input (:mod:`dnabert.lm.tokens`)
``predict``             FASTA or BED + genome -> class probabilities (:mod:`dnabert.lm.predict`)
``embed``               FASTA or dataset TSV -> embeddings ``.npy`` + index TSV (:mod:`dnabert.lm.embeddings`)
``attention``           FASTA -> DNABERT's per-nucleotide attention (:mod:`dnabert.interpret.fasta`)
``motifs``              positives + negatives FASTA -> scores, motifs per engine, TOMTOM vs JASPAR (:mod:`dnabert.interpret.fasta`)
``ism``                 in-silico mutagenesis table and heatmap (:mod:`dnabert.interpret.variants.mutagenesis`)
``vcf``                 SNVs of a VCF scored by a fine-tuned classifier (:mod:`dnabert.interpret.variants.vcf`)
``zeroshot``            SNVs of a VCF scored by a pretrained masked LM (:mod:`dnabert.interpret.variants.zeroshot`)
``mutations``           a DNABERT mutation file on a sequence table (:mod:`dnabert.interpret.variants.mutations`)
======================  =====================================================================

``--model`` takes any model directory the workflow writes (``results/pretrain/model``,
``results/finetune/<task>/seed1/model``), a DNABERT release directory, or a Hugging
Face Hub id such as ``zhihan1996/DNA_bert_6`` (fetched into the Hub cache; see
:mod:`dnabert.lm.hub`). Bad input ends with one line, ``dnabert: error: <file:line:
field: message>``, and exit status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dnabert.cli import interpretation, sequences, variants
from dnabert.cli.common import PROG, Formatter
from dnabert.io import ConfigError, InputError

log = logging.getLogger("dnabert")

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_GROUPS = (sequences, interpretation, variants)


def build_parser() -> argparse.ArgumentParser:
    """The ``dnabert`` parser with every subcommand."""
    from importlib import metadata

    try:
        version = metadata.version("dnabert-workflow")
    except metadata.PackageNotFoundError:
        version = "unknown"
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=Formatter,
        description="DNABERT k-mer BERT models as a tool: predict, embed, interpret and score variants.",
        epilog="Run `dnabert <command> --help` for a command's options and an example.\n"
               "Models: a model directory (results/finetune/ctcf/seed1/model, results/pretrain/model, a DNABERT "
               "release)\nor a Hugging Face Hub id (zhihan1996/DNA_bert_6; HF_HOME and HF_HUB_OFFLINE apply).",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; exit status 0, or 2 for bad input (one line on stderr)."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.debug else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    try:
        args.run(args)
    except (InputError, ConfigError) as err:
        if args.debug:
            raise
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0
