# Shared set-up: config validation, wildcard constraints, and what several stages
# use (the genome's files, the tasks, the report's categories, the default targets).
# Each stage's own functions and constants are in functions/<stage>.smk, which its
# rules file includes.
import sys
from pathlib import Path

# The dnabert package holds all logic; make it importable even where it is not
# installed (e.g. the Python that runs Snakemake under --use-conda).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from dnabert.config.validation import ConfigError, validate_config
from dnabert.config.finetune import add_gue_tasks, finetune_problems

# A GUE / DNABERT-2 benchmark folder (finetune.gue.folder) adds one table task per
# sub-folder of train/dev/test CSVs, before the tasks are validated.
add_gue_tasks(config)

validate_config(
    config,
    Path(workflow.basedir) / "config" / "schema" / "config.schema.yaml",
    [str(f) for f in workflow.configfiles],
)
_finetune_problems = list(finetune_problems(config))
if _finetune_problems:
    raise ConfigError(_finetune_problems, [str(f) for f in workflow.configfiles])

GENOME = config["genome"]["name"]
SIMULATE = config["genome"].get("simulate")
TASKS = config["tasks"]


wildcard_constraints:
    genome=r"[A-Za-z0-9_.-]+",
    download=r"[A-Za-z0-9_.-]+",
    task=r"[A-Za-z0-9_-]+",
    k=r"[3-6]",
    seed=r"\d+",
    baseline=r"kmer_lr|cnn",
    prediction=r"[A-Za-z0-9_.-]+",
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*--[A-Za-z0-9][A-Za-z0-9_.@-]*",


def genome_files(genome=GENOME):
    """The normalised genome: bgzipped FASTA, its indices and chrom.sizes."""
    base = f"resources/genome/{genome}"
    return {
        "fasta": f"{base}/genome.fa.gz",
        "fai": f"{base}/genome.fa.gz.fai",
        "gzi": f"{base}/genome.fa.gz.gzi",
        "sizes": f"{base}/chrom.sizes",
    }


# The HTML report (rules in report.smk). Categories are numbered so that the report's
# menu, which sorts them by name, lists them in the order of the pipeline; every
# stage's report() outputs use these names, with the task as subcategory.
REPORT_CATEGORIES = {
    "overview": "1. Overview",
    "data": "2. Data",
    "pretraining": "3. Pretraining",
    "finetuning": "4. Fine-tuning",
    "interpretation": "5. Interpretation",
    "cost": "6. Cost",
}


def all_targets():
    """What `snakemake` builds by default: every stage's targets.

    Called only once every stage's functions are included (by report.smk and `rule all`).
    """
    return (
        genome_targets()
        + [corpus_dir()]
        + dataset_targets()
        + list(pretrain_files().values())
        + benchmark_targets()
        + interpret_targets()
        + embed_targets()
    )
