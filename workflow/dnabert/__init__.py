"""DNABERT re-implemented as a reproducible Snakemake workflow.

Modules follow the data flow: ``genome`` and ``download`` acquire inputs,
``simulate`` makes the offline demo genome, later stages build task datasets,
tokenise, pretrain, fine-tune and interpret.
"""

__version__ = "0.1.0"
