"""Snakemake glue: download one configured url, verified against its checksum."""

from _glue import run

from dnabert.download import Checksum, fetch


def main() -> None:
    source = snakemake.params.source
    fetch(
        source["url"],
        snakemake.output[0],
        Checksum.from_spec(source),
        retries=snakemake.params.retries,
        timeout=snakemake.params.timeout,
    )


run(snakemake, main)
