# Fine-tuning per task and seed, baselines on the same splits, the benchmark table,
# and scoring new sequences. Logic in dnabert.lm.finetune, dnabert.lm.baselines,
# dnabert.lm.evaluation and dnabert.lm.predict; input functions in
# functions/finetune.smk.


include: "functions/finetune.smk"


rule finetune_seed:
    input:
        unpack(finetune_inputs),
    output:
        metrics=finetune_run_files()["metrics"],
        predictions=finetune_run_files()["predictions"],
        history=finetune_run_files()["history"],
        model=directory(finetune_run_files()["model"]),
        lr=finetune_run_files()["lr"],
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
        lr_grid=lambda wildcards: lr_grid(config, wildcards.task),
        first_seed=lambda wildcards: task_seeds(config, wildcards.task)[0],
        kmer=config["kmer"],
        device="cuda" if FINETUNE["gpus"] else "cpu",
    script:
        "../scripts/finetune_run.py"


# The pretraining ablation: the same architecture and recipe from a random initialisation.
use rule finetune_seed as scratch_seed with:
    input:
        unpack(scratch_inputs),
    output:
        metrics=finetune_run_files(model="bert_scratch")["metrics"],
        predictions=finetune_run_files(model="bert_scratch")["predictions"],
        history=finetune_run_files(model="bert_scratch")["history"],
        model=directory(finetune_run_files(model="bert_scratch")["model"]),
        lr=finetune_run_files(model="bert_scratch")["lr"],
    log:
        "logs/baselines/{task}/bert_scratch/seed{seed}.log",
    benchmark:
        "benchmarks/baselines/{task}/bert_scratch/seed{seed}.tsv"
    params:
        settings=lambda wildcards: scratch_settings(config, wildcards.task),
        lr_grid=lambda wildcards: lr_grid(config, wildcards.task),
        first_seed=lambda wildcards: task_seeds(config, wildcards.task)[0],
        kmer=config["kmer"],
        device="cuda" if FINETUNE["gpus"] else "cpu",


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


use rule finetune_task as scratch_task with:
    input:
        scratch_seed_metrics,
    output:
        "results/baselines/{task}/bert_scratch/metrics.json",
    log:
        "logs/baselines/{task}/bert_scratch/aggregate.log",


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
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="all tasks",
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
    benchmark:
        "benchmarks/predict/{prediction}.tsv"
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
