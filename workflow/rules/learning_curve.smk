# Label efficiency (finetune.train_fractions): the fine-tuned BERT, bert_scratch and the
# baselines trained on seeded, stratified subsets of each task's training split (one
# subset per seed; same dev and test), with the fine-tuning and baseline rules' own
# scripts. Fraction 1 is the benchmark's runs. Logic in dnabert.lm.learning_curve;
# input functions in functions/learning_curve.smk.


include: "functions/learning_curve.smk"


wildcard_constraints:
    frac=r"0\.\d+|1",
    model=r"dnabert|bert_scratch|kmer_lr|cnn",


rule train_subset:
    input:
        dataset_files()["train"],
    output:
        subset_file(),
    log:
        "logs/learning_curve/{task}/subset_frac{frac}_seed{seed}.log",
    conda:
        "../../envs/finetune.yaml"
    script:
        "../scripts/train_subset.py"


# The BERT runs reuse the benchmark's rules with a subset as train. The learning rate
# is the one chosen on dev at the full training split (its first seed's lr.json), so
# first_seed -1: no search on a subset.
use rule finetune_seed as curve_finetune_seed with:
    input:
        unpack(curve_finetune_inputs),
    output:
        metrics=curve_run_files(model="dnabert")["metrics"],
        predictions=curve_run_files(model="dnabert")["predictions"],
        history=curve_run_files(model="dnabert")["history"],
        model=directory(curve_run_files(model="dnabert")["model"]),
        lr=curve_run_files(model="dnabert")["lr"],
    log:
        "logs/learning_curve/{task}/dnabert/frac{frac}_seed{seed}.log",
    benchmark:
        "benchmarks/learning_curve/{task}/dnabert/frac{frac}_seed{seed}.tsv"
    params:
        settings=lambda wildcards: task_settings(config, wildcards.task),
        lr_grid=lambda wildcards: lr_grid(config, wildcards.task),
        first_seed=-1,
        kmer=config["kmer"],
        device="cuda" if FINETUNE["gpus"] else "cpu",


use rule finetune_seed as curve_scratch_seed with:
    input:
        unpack(curve_scratch_inputs),
    output:
        metrics=curve_run_files(model="bert_scratch")["metrics"],
        predictions=curve_run_files(model="bert_scratch")["predictions"],
        history=curve_run_files(model="bert_scratch")["history"],
        model=directory(curve_run_files(model="bert_scratch")["model"]),
        lr=curve_run_files(model="bert_scratch")["lr"],
    log:
        "logs/learning_curve/{task}/bert_scratch/frac{frac}_seed{seed}.log",
    benchmark:
        "benchmarks/learning_curve/{task}/bert_scratch/frac{frac}_seed{seed}.tsv"
    params:
        settings=lambda wildcards: scratch_settings(config, wildcards.task),
        lr_grid=lambda wildcards: lr_grid(config, wildcards.task),
        first_seed=-1,
        kmer=config["kmer"],
        device="cuda" if FINETUNE["gpus"] else "cpu",


use rule baseline as curve_baseline with:
    input:
        unpack(curve_split_inputs),
    output:
        metrics=curve_run_files(model="{baseline}")["metrics"],
        predictions=curve_run_files(model="{baseline}")["predictions"],
    log:
        "logs/learning_curve/{task}/{baseline}/frac{frac}_seed{seed}.log",
    benchmark:
        "benchmarks/learning_curve/{task}/{baseline}/frac{frac}_seed{seed}.tsv"
    params:
        settings=BASELINES,
        seeds=lambda wildcards: [int(wildcards.seed)],
        headline=lambda wildcards: task_settings(config, wildcards.task)["headline"],


rule learning_curve_point:
    input:
        unpack(curve_point_inputs),
    output:
        curve_point_file(),
    log:
        "logs/learning_curve/{task}/{model}/frac{frac}.log",
    conda:
        "../../envs/finetune.yaml"
    params:
        seeds=curve_point_seeds,
        headline=lambda wildcards: task_settings(config, wildcards.task)["headline"],
    script:
        "../scripts/learning_curve_point.py"


rule learning_curve_summary:
    input:
        learning_curve_points(),
    output:
        table=learning_curve_files()["table"],
        plot=report(
            learning_curve_files()["plot"],
            caption="../report/learning_curves.rst",
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="learning curves",
        ),
    log:
        "logs/learning_curve/summary.log",
    conda:
        "../../envs/finetune.yaml"
    script:
        "../scripts/learning_curve_summary.py"


rule report_learning_curves:
    input:
        learning_curve_files()["table"],
    output:
        report(
            learning_curve_files()["page"],
            caption="../report/learning_curves.rst",
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="learning curves",
        ),
    log:
        "logs/report/learning_curves.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_learning_curves.py"


rule learning_curves:
    input:
        learning_curve_targets(),


localrules:
    report_learning_curves,
