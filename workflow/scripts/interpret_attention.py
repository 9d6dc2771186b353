"""Snakemake glue: score a task's sequences with its fine-tuned model (attention, integrated gradients, plots)."""

from _glue import run

from dnabert.interpret.stage import InterpretSettings, score_task


def main() -> None:
    settings = InterpretSettings.from_config(snakemake.params.settings, seed=snakemake.params.seed)
    splits = {split: snakemake.input[split] for split in settings.splits}
    score_task(
        snakemake.input.model,
        splits,
        settings,
        scores_out=snakemake.output.scores,
        agreement_out=snakemake.output.agreement,
        heatmap_out=snakemake.output.heatmap,
        profile_out=snakemake.output.profile,
        task=snakemake.wildcards.task,
        device=snakemake.params.device,
        threads=snakemake.threads,
    )


run(snakemake, main)
