"""Snakemake glue: DNABERT's motif discovery from a task's attention scores."""

from _glue import run

from dnabert.interpret.stage import InterpretSettings, discover_task


def main() -> None:
    discover_task(
        snakemake.input.scores,
        InterpretSettings.from_config(snakemake.params.settings),
        meme_out=snakemake.output.meme,
        summary_out=snakemake.output.summary,
        instances_out=snakemake.output.instances,
        bed_out=snakemake.output.bed,
        logos_out=snakemake.output.logos,
    )


run(snakemake, main)
