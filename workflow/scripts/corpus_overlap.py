"""Snakemake glue: the bases of each split of one task that lie in pretraining corpus pieces (QC)."""

import logging

from _glue import run

from dnabert.data.qc import corpus_overlap_qc


def main() -> None:
    rows = corpus_overlap_qc(dict(snakemake.input.items()), snakemake.input.corpus, snakemake.output[0])
    for row in rows:
        logging.info("%s %s: %d of %d bp in corpus pieces (%d of %d located rows)", snakemake.wildcards.task,
                     row["split"], row["overlap_bp"], row["interval_bases"], row["rows_overlapping"],
                     row["rows_with_coordinates"])


run(snakemake, main)
