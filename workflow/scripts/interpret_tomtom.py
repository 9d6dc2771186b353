"""Snakemake glue: TOMTOM of a task's discovered motifs against JASPAR."""

from _glue import run

from dnabert.interpret.stage import InterpretSettings, compare_task


def main() -> None:
    compare_task(
        snakemake.input.meme,
        InterpretSettings.from_config(snakemake.params.settings),
        tomtom_out=snakemake.output.tomtom,
        figure_out=snakemake.output.matches,
        summary=snakemake.input.summary,
        page_out=snakemake.output.page,
        task=snakemake.wildcards.task,
        threads=snakemake.threads,
    )


run(snakemake, main)
