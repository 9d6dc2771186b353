# Functions and constants of fine-tuning, baselines, the benchmark table and
# predictions (rules in finetune.smk).
from dnabert.config.finetune import (
    encoder_source,
    prediction_seed,
    task_seeds,
    task_settings,
)

FINETUNE = config["finetune"]
BASELINES = config["baselines"]


def finetune_run_files(task="{task}", seed="{seed}"):
    """Outputs of one fine-tuning run, by key."""
    base = f"results/finetune/{task}/seed{seed}"
    return {
        "metrics": f"{base}/metrics.json",
        "predictions": f"{base}/predictions.tsv",
        "history": f"{base}/history.csv",
        "model": f"{base}/model",
    }


def finetune_inputs(wildcards):
    """A task's splits, and the model its encoder starts from (none from scratch)."""
    inputs = dataset_files(wildcards.task)
    encoder = encoder_source(config, wildcards.task, pretrain_files()["model"])
    if encoder:
        inputs["encoder"] = encoder
    return inputs


def finetune_seed_metrics(wildcards):
    """Every seed's metrics.json of a task."""
    return [
        finetune_run_files(wildcards.task, seed)["metrics"]
        for seed in task_seeds(config, wildcards.task)
    ]


def finetune_targets():
    """The aggregated metrics.json of every task."""
    return [f"results/finetune/{task}/metrics.json" for task in TASKS]


def baseline_targets():
    """Every configured baseline's metrics.json for every task."""
    return [
        f"results/baselines/{task}/{name}/metrics.json"
        for task in TASKS
        for name in BASELINES["models"]
    ]


def benchmark_summary_files():
    return {
        "table": "results/benchmarks/summary.tsv",
        "plot": "results/benchmarks/summary.png",
    }


def prediction_targets():
    return [f"results/predict/{name}.tsv" for name in FINETUNE["predict"]]


def prediction_inputs(wildcards):
    """The fine-tuned model and what it scores (a FASTA, or a BED plus the genome)."""
    spec = FINETUNE["predict"][wildcards.prediction]
    seed = prediction_seed(config, wildcards.prediction)
    inputs = {"model": finetune_run_files(spec["task"], seed)["model"]}
    if spec.get("fasta"):
        inputs["fasta"] = spec["fasta"]
    else:
        inputs["bed"] = spec["bed"]
        genome = genome_files()
        inputs.update(genome=genome["fasta"], fai=genome["fai"], gzi=genome["gzi"])
    return inputs


def benchmark_targets():
    """Fine-tuned models, baselines, the summary table and predictions (nothing without tasks)."""
    if not TASKS:
        return prediction_targets()
    return (
        finetune_targets()
        + baseline_targets()
        + list(benchmark_summary_files().values())
        + prediction_targets()
    )
