"""``dnabert vcf``, ``dnabert zeroshot`` and ``dnabert mutations``: variant effects."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnabert.cli.common import ON_MISMATCH, add_command, output, positive, progress, runtime
from dnabert.io import InputError

CLASSIFIER = "fine-tuned model directory (results/finetune/<task>/seed1/model) or Hub id"


def register(commands) -> None:
    """Add the subcommands to the ``dnabert`` parser."""
    parser = add_command(commands, "vcf", "SNVs of a VCF scored by a fine-tuned classifier",
                         "Each SNV in the window the model was fine-tuned on, REF checked against the genome:\n"
                         "--window bp centred (default: the model's whole input); for a promoter model --tss with\n"
                         "--upstream/--downstream puts a variant inside a promoter at its TSS-relative position,\n"
                         "in transcript orientation; for a splice model --splice-gtf does the same at donors and\n"
                         "acceptors. Output TSV: chrom pos id ref alt status context strand window_start window_end\n"
                         "prob_ref prob_alt delta_prob log_odds_ratio.",
                         "dnabert vcf --model results/finetune/prom300/seed1/model --vcf my.vcf.gz --genome "
                         "genome.fa.gz --tss genes.gtf.gz --upstream 249 --downstream 50 --out prom300.tsv",
                         batch_size=128, model_help=CLASSIFIER)  # fmt: skip
    _vcf_inputs(parser, ON_MISMATCH)
    where = parser.add_argument_group("windows")
    where.add_argument("--window", type=positive, default=None, help="window width (bp), centred on each variant")
    where.add_argument("--tss", type=Path, default=None, help="promoter model: the TSSs (GTF, or TSS BED with strand)")
    where.add_argument("--tss-format", choices=("gtf", "bed"), default="gtf", help="format of --tss")
    where.add_argument("--upstream", type=int, default=249, help="promoter window: bp upstream of the TSS")
    where.add_argument("--downstream", type=int, default=50, help="promoter window: bp downstream of the TSS")
    where.add_argument("--splice-gtf", type=Path, default=None, help="splice model: the GTF (with --window)")
    parser.add_argument("--target-class", type=int, default=1, help="class whose probability is compared")
    parser.set_defaults(run=run_vcf)

    parser = add_command(commands, "zeroshot", "SNVs of a VCF scored by a pretrained masked LM (no fine-tuning)",
                         "llr = log P(ALT) - log P(REF) at the variant's k-mers: the k k-mers over the site are\n"
                         "masked (DNABERT's span) and the model's log-probabilities of the k-mers with ALT and\n"
                         "with REF are summed over those positions, in one forward pass per site. Output TSV:\n"
                         "chrom pos id ref alt status window_start window_end kmers logp_ref logp_alt llr.",
                         "dnabert zeroshot --model results/pretrain/model --vcf my.vcf.gz --genome genome.fa.gz "
                         "--out zeroshot.tsv", batch_size=64,
                         model_help="pretrained masked LM: results/pretrain/model, a DNABERT release, or a Hub id "
                         "(zhihan1996/DNA_bert_6)")  # fmt: skip
    _vcf_inputs(parser, ON_MISMATCH)
    parser.add_argument("--window", type=positive, default=None,
                        help="context (bp) centred on each variant (default: the model's whole input)")
    parser.set_defaults(run=run_zeroshot)

    parser = add_command(commands, "mutations", "a DNABERT mutation file (idx start end replacement) scored",
                         "DNABERT's mutation file applied to the rows of a sequence table (dataset TSV or DNABERT\n"
                         "k-mer TSV); 0-based half-open, empty replacement = deletion.",
                         "dnabert mutations --model results/finetune/ctcf/seed1/model --sequences dev.tsv "
                         "--mutations mut.txt --out mutations.tsv", batch_size=128, model_help=CLASSIFIER)  # fmt: skip
    parser.add_argument("--sequences", required=True, type=Path, help="dataset TSV(.gz) or DNABERT k-mer TSV")
    parser.add_argument("--mutations", required=True, type=Path, help="idx start end replacement per line")
    parser.add_argument("--target-class", type=int, default=1, help="class whose probability is compared")
    parser.add_argument("--out", required=True, type=Path, help="output TSV")
    parser.set_defaults(run=run_mutations)


def _vcf_inputs(parser: argparse.ArgumentParser, on_mismatch: tuple[str, ...]) -> None:
    parser.add_argument("--vcf", required=True, type=Path, help="VCF, plain or gzipped")
    parser.add_argument("--genome", required=True, type=Path, help="indexed genome FASTA (.fai; .gzi if bgzipped)")
    parser.add_argument("--on-mismatch", choices=on_mismatch, default="flag",
                        help="REF differs from the genome etc.: flag the row, or stop with an error")
    parser.add_argument("--out", required=True, type=Path, help="output TSV")


def run_vcf(args: argparse.Namespace) -> None:
    from dnabert.interpret.variants.vcf import score_vcf_file
    from dnabert.interpret.variants.windows import promoter_placement, splice_placement

    placement = None
    if args.tss is not None and args.splice_gtf is not None:
        raise InputError(None, "give --tss (promoter model) or --splice-gtf (splice model), not both", field="--tss")
    if args.tss is not None:
        placement = promoter_placement(args.tss, args.tss_format, args.upstream, args.downstream)
    elif args.splice_gtf is not None:
        if args.window is None:
            raise InputError(None, "--splice-gtf needs --window (the splice task's window, e.g. 400)", field="--window")
        placement = splice_placement(args.splice_gtf, args.window)
    score_vcf_file(args.model, args.vcf, args.genome, output(args.out), window=None if placement else args.window,
                   placement=placement, target_class=args.target_class, on_mismatch=args.on_mismatch,
                   progress=progress(args), **runtime(args))  # fmt: skip


def run_zeroshot(args: argparse.Namespace) -> None:
    from dnabert.interpret.variants.zeroshot import zeroshot_file

    zeroshot_file(args.model, args.vcf, args.genome, output(args.out), window=args.window,
                  on_mismatch=args.on_mismatch, progress=progress(args), **runtime(args))  # fmt: skip


def run_mutations(args: argparse.Namespace) -> None:
    from dnabert.interpret.variants.mutations import score_mutation_file

    progress(args)
    options = runtime(args)
    score_mutation_file(args.model, args.sequences, args.mutations, output(args.out), target_class=args.target_class,
                        **options)  # fmt: skip
