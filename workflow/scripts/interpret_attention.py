"""Snakemake glue: score a task's sequences with one seed's model (heads chosen on dev, attention, integrated gradients, plots)."""

from _glue import run

from dnabert.interpret.scoring import score_task
from dnabert.interpret.settings import InterpretSettings


def main() -> None:
    settings = InterpretSettings.from_config(snakemake.params.settings, seed=snakemake.params.seed)
    splits = {split: snakemake.input[split] for split in settings.splits}
    score_task(
        snakemake.input.model,
        splits,
        settings,
        dev_file=snakemake.input.dev,
        scores_out=snakemake.output.scores,
        selection_out=snakemake.output.selection,
        agreement_out=snakemake.output.agreement,
        heatmap_out=snakemake.output.heatmap,
        profile_out=snakemake.output.profile,
        task=f"{snakemake.wildcards.task} seed {snakemake.wildcards.seed}",
        device=snakemake.params.device,
        threads=snakemake.threads,
    )


run(snakemake, main)
