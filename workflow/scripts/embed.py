"""Snakemake glue: embed a task's test split and draw its 2-D PCA projection coloured by label."""

from _glue import run

from dnabert.lm.embeddings import embed_file


def main() -> None:
    params = snakemake.params
    embed_file(
        snakemake.input.model,
        snakemake.output.vectors,
        snakemake.output.index,
        dataset=snakemake.input.test,
        pooling=params.pooling,
        layer=params.layer,
        batch_size=params.batch_size,
        device=params.device,
        threads=snakemake.threads,
        projection_out=snakemake.output.projection,
        title=f"{snakemake.wildcards.task}: test split, {params.model} model, {params.pooling} pooling "
        f"(hidden_states[{params.layer}])",
    )


run(snakemake, main)
