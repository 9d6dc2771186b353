# Task datasets: positives from peaks, TSSs, splice sites or tables; negatives;
# chromosome hold-out splits; QC. Logic in dnabert.data.tasks, dnabert.data.datasets,
# dnabert.data.qc and friends.


include: "functions/datasets.smk"


rule task_dataset:
    input:
        unpack(dataset_inputs),
    output:
        **dataset_files(),
        duplicates=dataset_duplicates_file(),
    log:
        "logs/task_dataset/{task}.log",
    benchmark:
        "benchmarks/task_dataset/{task}.tsv"
    conda:
        "../../envs/datasets.yaml"
    params:
        settings=lambda wildcards: TASKS[wildcards.task],
        splits=config["splits"],
    script:
        "../scripts/build_dataset.py"


rule dataset_qc:
    input:
        **dataset_files(),
        duplicates=dataset_duplicates_file(),
    output:
        counts=dataset_qc_files()["counts"],
        composition=dataset_qc_files()["composition"],
        summary=dataset_qc_files()["summary"],
        plot=report(
            dataset_qc_files()["plot"],
            caption="../report/dataset_qc.rst",
            category=REPORT_CATEGORIES["data"],
            subcategory="{task}",
        ),
    log:
        "logs/dataset_qc/{task}.log",
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/dataset_qc.py"
