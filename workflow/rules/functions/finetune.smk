# Functions and constants of fine-tuning, baselines, the benchmark table and
# predictions (rules in finetune.smk).
from dnabert.config.finetune import (
    bert_scratch_wanted,
    encoder_source,
    lr_grid,
    prediction_seed,
    scratch_settings,
    task_seeds,
    task_settings,
)

FINETUNE = config["finetune"]
BASELINES = config["baselines"]
# Where each BERT model's runs live: the fine-tuned model, and the from-scratch ablation.
BERT_RUN_DIRS = {
    "finetune": "results/finetune/{task}",
    "bert_scratch": "results/baselines/{task}/bert_scratch",
}


def finetune_run_files(task="{task}", seed="{seed}", model="finetune"):
    """Outputs of one fine-tuning run, by key."""
    base = "{}/seed{}".format(BERT_RUN_DIRS[model].format(task=task), seed)
    return {
        "metrics": f"{base}/metrics.json",
        "predictions": f"{base}/predictions.tsv",
        "history": f"{base}/history.csv",
        "model": f"{base}/model",
        "lr": f"{base}/lr.json",
    }


def _run_inputs(wildcards, model):
    """A run's splits, the model its encoder starts from, and the first seed's lr choice."""
    inputs = dataset_files(wildcards.task)
    if model == "finetune":
        encoder = encoder_source(config, wildcards.task, pretrain_files()["model"])
        if encoder:
            inputs["encoder"] = encoder
    first = task_seeds(config, wildcards.task)[0]
    if len(lr_grid(config, wildcards.task)) > 1 and int(wildcards.seed) != first:
        inputs["lr_choice"] = finetune_run_files(wildcards.task, first, model)["lr"]
    return inputs


def finetune_inputs(wildcards):
    return _run_inputs(wildcards, "finetune")


def scratch_inputs(wildcards):
    return _run_inputs(wildcards, "bert_scratch")


def finetune_seed_metrics(wildcards):
    """Every seed's metrics.json of a task's fine-tuned model."""
    return [
        finetune_run_files(wildcards.task, seed)["metrics"]
        for seed in task_seeds(config, wildcards.task)
    ]


def scratch_seed_metrics(wildcards):
    """Every seed's metrics.json of a task's bert_scratch model."""
    return [
        finetune_run_files(wildcards.task, seed, "bert_scratch")["metrics"]
        for seed in task_seeds(config, wildcards.task)
    ]


def finetune_targets():
    """The aggregated metrics.json of every task."""
    return [f"results/finetune/{task}/metrics.json" for task in TASKS]


def baseline_names():
    """The baselines that run: those configured, bert_scratch only where it is not the main model."""
    return [
        name
        for name in BASELINES["models"]
        if name != "bert_scratch" or bert_scratch_wanted(config)
    ]


def baseline_targets():
    """Every baseline's metrics.json for every task (bert_scratch included)."""
    return [
        f"results/baselines/{task}/{name}/metrics.json"
        for task in TASKS
        for name in baseline_names()
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
