# Functions and constants of the report (rules in report.smk); REPORT_CATEGORIES,
# which every stage's report() outputs use, is in common.smk.
from types import SimpleNamespace

from dnabert.config.finetune import task_seeds
from dnabert.config.validation import task_source_file, task_sources

REPORT_DIR = "results/report"


def report_stage_files():
    """The report's own tables and figures (beside the stages' report() outputs), by key."""
    files = {
        "overview": f"{REPORT_DIR}/overview.html",
        "pretrain": f"{REPORT_DIR}/pretraining/metrics.html",
        "cost_table": f"{REPORT_DIR}/cost/cost.html",
        "cost_tsv": f"{REPORT_DIR}/cost/cost.tsv",
        "cost_plot": f"{REPORT_DIR}/cost/cost.png",
    }
    if TASKS:
        files["benchmarks"] = f"{REPORT_DIR}/finetuning/test_metrics.html"
    for task in TASKS:
        files[f"dataset_{task}"] = f"{REPORT_DIR}/data/{task}/dataset.html"
        files[f"curves_{task}"] = f"{REPORT_DIR}/finetuning/{task}/roc_pr_curves.png"
        files[f"confusion_{task}"] = (
            f"{REPORT_DIR}/finetuning/{task}/confusion_matrices.png"
        )
    return files


def report_targets():
    """The report page and what it needs beyond all_targets()."""
    return ["results/report.html"]


def provenance_files():
    """Files the overview lists with their SHA-256: the genome as read and normalised, every task input."""
    files = {"genome (as read)": raw_genome(SimpleNamespace(genome=GENOME))}
    files["genome (normalised)"] = genome_files()["fasta"]
    if config["genome"]["blacklist"] is not None:
        files["blacklist (prepared)"] = f"resources/genome/{GENOME}/blacklist.bed.gz"
    for task, role in task_sources(config):
        files[f"{task} {role}"] = task_source_file(config, task, role)
    return files


def report_prediction_inputs(wildcards):
    """A task's test predictions: every fine-tuning seed, every baseline, and the task's metrics."""
    task = wildcards.task
    inputs = {
        "finetuned": [
            finetune_run_files(task, seed)["predictions"]
            for seed in task_seeds(config, task)
        ],
        "metrics": f"results/finetune/{task}/metrics.json",
    }
    for name in baseline_names():
        if name == "bert_scratch":
            inputs[name] = [
                finetune_run_files(task, seed, "bert_scratch")["predictions"]
                for seed in task_seeds(config, task)
            ]
        else:
            inputs[name] = [f"results/baselines/{task}/{name}/predictions.tsv"]
    return inputs


def benchmark_patterns():
    """Rule name -> its benchmark: file pattern, for every rule that has one."""
    return {rule.name: str(rule.benchmark) for rule in workflow.rules if rule.benchmark}
