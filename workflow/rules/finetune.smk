# Fine-tuning per task and seed, baselines on the same splits, the benchmark table,
# and scoring new sequences. Logic in dnabert.finetune, dnabert.baselines,
# dnabert.evaluation and dnabert.predict; config helpers in dnabert.finetune_config.
from dnabert.config import ConfigError
from dnabert.finetune_config import (
    encoder_source,
    finetune_problems,
    prediction_seed,
    task_seeds,
    task_settings,
)

FINETUNE = config["finetune"]
BASELINES = config["baselines"]
_finetune_problems = list(finetune_problems(config))
if _finetune_problems:
    raise ConfigError(_finetune_problems, [str(f) for f in workflow.configfiles])


wildcard_constraints:
    seed=r"\d+",
    baseline=r"kmer_lr|cnn",
    prediction=r"[A-Za-z0-9_.-]+",


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


rule finetune_seed:
    input:
        unpack(finetune_inputs),
    output:
        metrics=finetune_run_files()["metrics"],
        predictions=finetune_run_files()["predictions"],
        history=finetune_run_files()["history"],
        model=directory(finetune_run_files()["model"]),
    log:
        "logs/finetune/{task}/seed{seed}.log",
    benchmark:
        "benchmarks/finetune/{task}/seed{seed}.tsv"
    conda:
        "../../envs/finetune.yaml"
    threads: FINETUNE["threads"]
    resources:
        gpu=FINETUNE["gpus"],
    params:
        settings=lambda wildcards: task_settings(config, wildcards.task),
        kmer=config["kmer"],
        device="cuda" if FINETUNE["gpus"] else "cpu",
    script:
        "../scripts/finetune_run.py"


rule finetune_task:
    input:
        finetune_seed_metrics,
    output:
        "results/finetune/{task}/metrics.json",
    log:
        "logs/finetune/{task}/aggregate.log",
    conda:
        "../../envs/finetune.yaml"
    script:
        "../scripts/finetune_aggregate.py"


rule baseline:
    input:
        **dataset_files(),
    output:
        metrics="results/baselines/{task}/{baseline}/metrics.json",
        predictions="results/baselines/{task}/{baseline}/predictions.tsv",
    log:
        "logs/baselines/{task}/{baseline}.log",
    benchmark:
        "benchmarks/baselines/{task}/{baseline}.tsv"
    conda:
        "../../envs/finetune.yaml"
    threads: BASELINES["threads"]
    params:
        settings=BASELINES,
        seeds=lambda wildcards: task_seeds(config, wildcards.task),
        headline=lambda wildcards: task_settings(config, wildcards.task)["headline"],
    script:
        "../scripts/baseline.py"


rule benchmark_summary:
    input:
        finetune_targets(),
        baseline_targets(),
    output:
        table=benchmark_summary_files()["table"],
        plot=report(
            benchmark_summary_files()["plot"],
            caption="../report/benchmarks.rst",
            category="Benchmarks",
        ),
    log:
        "logs/benchmark_summary.log",
    conda:
        "../../envs/finetune.yaml"
    script:
        "../scripts/benchmark_summary.py"


rule predict:
    input:
        unpack(prediction_inputs),
    output:
        "results/predict/{prediction}.tsv",
    log:
        "logs/predict/{prediction}.log",
    conda:
        "../../envs/finetune.yaml"
    threads: FINETUNE["threads"]
    resources:
        gpu=FINETUNE["gpus"],
    params:
        aggregate=lambda wildcards: FINETUNE["predict"][wildcards.prediction][
            "aggregate"
        ],
        device="cuda" if FINETUNE["gpus"] else "cpu",
    script:
        "../scripts/predict.py"


rule finetune:
    input:
        finetune_targets(),


rule baselines:
    input:
        baseline_targets(),


rule benchmarks:
    input:
        benchmark_targets(),
