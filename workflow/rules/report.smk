# The report: tables and figures that only the report needs (provenance, per-task
# ROC/PR curves and confusion matrices, run cost), and results/report.html itself,
# which the default target builds with `snakemake --report` once everything else
# is done. Logic in dnabert.report (pages rendered by dnabert.html); input functions in
# functions/report.smk, categories in common.smk.
import sys

import snakemake as _snakemake


include: "functions/report.smk"


# The report job runs Snakemake itself, so it runs where Snakemake runs; the other
# report jobs are light (tables, small figures) and not worth a cluster job each.
localrules:
    report,
    report_overview,
    report_dataset,
    report_pretrain,
    report_test_metrics,
    report_task_evaluation,
    report_cost,


rule report_overview:
    input:
        files=list(provenance_files().values()),
        done=all_targets(),
    output:
        report(
            report_stage_files()["overview"],
            caption="../report/overview.rst",
            category=REPORT_CATEGORIES["overview"],
        ),
    log:
        "logs/report/overview.log",
    conda:
        "../../envs/report.yaml"
    params:
        names=list(provenance_files()),
        configfiles=[str(f) for f in workflow.config_settings.configfiles],
        workflow_dir=workflow.basedir,
        snakemake_version=_snakemake.__version__,
    script:
        "../scripts/report_overview.py"


rule report_dataset:
    input:
        **dataset_qc_files(),
    output:
        report(
            f"{REPORT_DIR}/data/{{task}}/dataset.html",
            caption="../report/dataset_table.rst",
            category=REPORT_CATEGORIES["data"],
            subcategory="{task}",
        ),
    log:
        "logs/report/dataset/{task}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_dataset.py"


rule report_pretrain:
    input:
        pretrain_files()["metrics"],
    output:
        report(
            report_stage_files()["pretrain"],
            caption="../report/pretrain_table.rst",
            category=REPORT_CATEGORIES["pretraining"],
        ),
    log:
        "logs/report/pretrain.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_pretrain.py"


rule report_test_metrics:
    input:
        benchmark_summary_files()["table"],
    output:
        report(
            f"{REPORT_DIR}/finetuning/test_metrics.html",
            caption="../report/test_metrics.rst",
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="all tasks",
        ),
    log:
        "logs/report/test_metrics.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_test_metrics.py"


rule report_task_evaluation:
    input:
        unpack(report_prediction_inputs),
    output:
        curves=report(
            f"{REPORT_DIR}/finetuning/{{task}}/roc_pr_curves.png",
            caption="../report/roc_pr.rst",
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="{task}",
        ),
        confusion=report(
            f"{REPORT_DIR}/finetuning/{{task}}/confusion_matrices.png",
            caption="../report/confusion.rst",
            category=REPORT_CATEGORIES["finetuning"],
            subcategory="{task}",
        ),
    log:
        "logs/report/evaluation/{task}.log",
    conda:
        "../../envs/report.yaml"
    params:
        baselines=baseline_names(),
        task_type=lambda wildcards: TASKS[wildcards.task]["type"],
    script:
        "../scripts/report_task_evaluation.py"


rule report_cost:
    input:
        all_targets(),
    output:
        table=report(
            report_stage_files()["cost_table"],
            caption="../report/cost.rst",
            category=REPORT_CATEGORIES["cost"],
        ),
        tsv=report_stage_files()["cost_tsv"],
        plot=report(
            report_stage_files()["cost_plot"],
            caption="../report/cost.rst",
            category=REPORT_CATEGORIES["cost"],
        ),
    log:
        "logs/report/cost.log",
    conda:
        "../../envs/report.yaml"
    params:
        patterns=lambda wildcards: benchmark_patterns(),
    script:
        "../scripts/report_cost.py"


rule report:
    input:
        all_targets(),
        list(report_stage_files().values()),
    output:
        "results/report.html",
    log:
        "logs/report/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        python=sys.executable,
        snakefile=workflow.main_snakefile,
        configfiles=[str(f) for f in workflow.config_settings.configfiles],
        config_args=list(workflow.config_settings.config_args or []),
    script:
        "../scripts/snakemake_report.py"
