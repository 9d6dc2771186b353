# DNABERT as one reproducible Snakemake workflow. See README.md.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default (the offline demo). A --configfile replaces it whole, so a
# real-scale config never inherits the demo's simulate: section; schema defaults
# fill in what it leaves out.
if not workflow.overwrite_configfiles:

    configfile: Path(workflow.basedir) / "config" / "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/genome.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/report.smk"


# The landing page of `snakemake --report` (results/report.html).
report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        all_targets(),
        report_targets(),
