# Functions and constants of the task datasets (rules in datasets.smk).
from dnabert.config.validation import task_source_file, task_sources

SPLITS = ("train", "dev", "test")
QC_FILES = {
    "counts": "counts.tsv",
    "composition": "composition.tsv",
    "summary": "summary.json",
    "plot": "gc_content.png",
}


def dataset_files(task="{task}"):
    """The three splits of one task dataset, by split name."""
    return {split: f"results/datasets/{task}/{split}.tsv.gz" for split in SPLITS}


def dataset_duplicates_file(task="{task}"):
    """Repeated sequences of one task dataset, counted before and after its dedup policy (JSON)."""
    return f"results/datasets/{task}/qc/duplicates.json"


def dataset_qc_files(task="{task}"):
    """The QC files of one task dataset, by key."""
    return {key: f"results/datasets/{task}/qc/{name}" for key, name in QC_FILES.items()}


def dataset_inputs(wildcards):
    """A task's input files by role, plus the genome and blacklist for genome-based tasks."""
    inputs = {
        role: task_source_file(config, task, role)
        for (task, role) in task_sources(config)
        if task == wildcards.task
    }
    kind = TASKS[wildcards.task]["type"]
    if kind != "table":
        inputs.update(genome_files())
        if config["genome"]["blacklist"] is not None and kind != "coordinates":
            inputs["blacklist"] = f"resources/genome/{GENOME}/blacklist.bed.gz"
    return inputs


def dataset_targets():
    """Every configured task's splits and QC files."""
    targets = []
    for task in TASKS:
        targets += list(dataset_files(task).values())
        targets += list(dataset_qc_files(task).values())
        targets.append(dataset_duplicates_file(task))
    return targets
