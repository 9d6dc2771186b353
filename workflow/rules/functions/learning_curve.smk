# Functions and constants of the learning curves (rules in learning_curve.smk):
# finetune.train_fractions below 1 train every model on seeded, stratified subsets of
# the training split; fraction 1 is the benchmark's own runs (the same recipe).
from dnabert.config.finetune import train_fractions

CURVE_DIR = "results/learning_curve"
CURVE_BASELINES = [name for name in BASELINES["models"] if name in ("kmer_lr", "cnn")]


def frac_text(fraction):
    """A fraction as it appears in paths: 0.01, 0.1, 1."""
    return f"{float(fraction):g}"


def curve_models():
    """The models of every learning curve: the fine-tuned BERT, bert_scratch (if it runs), the baselines."""
    return (
        ["dnabert"]
        + (["bert_scratch"] if bert_scratch_wanted(config) else [])
        + CURVE_BASELINES
    )


def curve_tasks():
    """Tasks with a learning curve: some training fraction below 1."""
    return [task for task in TASKS if min(train_fractions(config, task)) < 1]


def subset_file(task="{task}", frac="{frac}", seed="{seed}"):
    return f"{CURVE_DIR}/{task}/subsets/frac{frac}/seed{seed}.tsv.gz"


def curve_run_files(task="{task}", model="{model}", frac="{frac}", seed="{seed}"):
    """Outputs of one run on one subset, by key (BERT runs; baselines use metrics and predictions)."""
    base = f"{CURVE_DIR}/{task}/{model}/frac{frac}/seed{seed}"
    return {
        "metrics": f"{base}/metrics.json",
        "predictions": f"{base}/predictions.tsv",
        "history": f"{base}/history.csv",
        "model": f"{base}/model",
        "lr": f"{base}/lr.json",
    }


def curve_point_file(task="{task}", model="{model}", frac="{frac}"):
    return f"{CURVE_DIR}/{task}/{model}/frac{frac}/metrics.json"


def curve_split_inputs(wildcards):
    """The subset as train, the task's own dev and test."""
    inputs = dataset_files(wildcards.task)
    inputs["train"] = subset_file(wildcards.task, wildcards.frac, wildcards.seed)
    return inputs


def curve_bert_inputs(wildcards, model):
    """A BERT run on a subset: the splits, the encoder, and the lr chosen on dev at the full split."""
    inputs = curve_split_inputs(wildcards)
    if model == "finetune":
        encoder = encoder_source(config, wildcards.task, pretrain_files()["model"])
        if encoder:
            inputs["encoder"] = encoder
    if len(lr_grid(config, wildcards.task)) > 1:
        first = task_seeds(config, wildcards.task)[0]
        inputs["lr_choice"] = finetune_run_files(wildcards.task, first, model)["lr"]
    return inputs


def curve_finetune_inputs(wildcards):
    return curve_bert_inputs(wildcards, "finetune")


def curve_scratch_inputs(wildcards):
    return curve_bert_inputs(wildcards, "bert_scratch")


def curve_point_inputs(wildcards):
    """Every seed's run of one point (fraction 1: the benchmark's runs), and a training split to count."""
    task, model, frac = wildcards.task, wildcards.model, wildcards.frac
    seeds = task_seeds(config, task)
    if float(frac) >= 1:
        if model == "dnabert":
            runs = [finetune_run_files(task, s)["metrics"] for s in seeds]
        elif model == "bert_scratch":
            runs = [
                finetune_run_files(task, s, "bert_scratch")["metrics"] for s in seeds
            ]
        else:
            runs = [f"results/baselines/{task}/{model}/metrics.json"]
        return {"runs": runs, "train": dataset_files(task)["train"]}
    runs = [curve_run_files(task, model, frac, s)["metrics"] for s in seeds]
    return {"runs": runs, "train": subset_file(task, frac, seeds[0])}


def curve_point_seeds(wildcards):
    """The seed of each file of a point: one subset per seed; None for the benchmark's own files."""
    if float(wildcards.frac) >= 1:
        return None
    return task_seeds(config, wildcards.task)


def learning_curve_points():
    return [
        curve_point_file(task, model, frac_text(fraction))
        for task in curve_tasks()
        for model in curve_models()
        for fraction in train_fractions(config, task)
    ]


def learning_curve_files():
    return {
        "table": f"{CURVE_DIR}/summary.tsv",
        "plot": f"{CURVE_DIR}/curves.png",
        "page": "results/report/finetuning/learning_curves.html",
    }


def learning_curve_targets():
    """The learning-curve table and plot (nothing when no task has a fraction below 1)."""
    if not curve_tasks():
        return []
    files = learning_curve_files()
    return [files["table"], files["plot"]]


def learning_curve_report_files():
    """The report's learning-curve page, when there are learning curves."""
    return {"learning_curves": learning_curve_files()["page"]} if curve_tasks() else {}
