# Functions and constants of the interpretation of fine-tuned models (rules in
# interpret.smk).
from pathlib import Path

from dnabert.config.finetune import task_seeds
from dnabert.config.validation import task_source_file
from dnabert.config.validation import ConfigError

INTERPRET = config["interpret"]


def interpret_tasks():
    """Tasks to interpret: interpret.tasks, or every peaks task."""
    if INTERPRET["tasks"] is None:
        return [task for task, spec in TASKS.items() if spec["type"] == "peaks"]
    unknown = [task for task in INTERPRET["tasks"] if task not in TASKS]
    if unknown:
        raise ConfigError(
            [
                f"interpret.tasks: unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASKS) or 'none'}"
            ],
            [str(f) for f in workflow.configfiles],
        )
    return list(INTERPRET["tasks"])


def interpret_seed(task):
    """The fine-tuning seed whose model is interpreted (interpret.seed or the task's first)."""
    seeds = task_seeds(config, task)
    seed = INTERPRET["seed"] if INTERPRET["seed"] is not None else seeds[0]
    if seed not in seeds:
        raise ConfigError(
            [
                f"interpret.seed: {seed} is not a fine-tuning seed of task {task} ({seeds})"
            ],
            [str(f) for f in workflow.configfiles],
        )
    return seed


# The interpret: keys each step reads (so that changing one step's settings reruns only it).
INTERPRET_STEP_KEYS = {
    "attention": (
        "splits",
        "max_sequences",
        "batch_size",
        "attention",
        "attribution",
        "motif_scores",
    ),
    "motifs": ("motifs", "motif_scores"),
    "tomtom": ("jaspar", "qvalue"),
}


def interpret_settings(step):
    """The part of the interpret: section one step uses."""
    return {key: INTERPRET[key] for key in INTERPRET_STEP_KEYS[step]}


def interpret_files(task="{task}"):
    """Outputs of a task's interpretation, by key."""
    base = f"results/interpret/{task}"
    files = {
        "scores": f"{base}/attention/scores.npz",
        "agreement": f"{base}/attention/agreement.tsv",
        "heatmap": f"{base}/attention/heatmap.png",
        "profile": f"{base}/attention/profile.png",
        "meme": f"{base}/motifs.meme",
        "summary": f"{base}/motifs.tsv",
        "instances": f"{base}/instances.tsv",
        "bed": f"{base}/instances.bed",
        "logos": f"{base}/logos",
        "tomtom": f"{base}/tomtom.tsv",
        "page": f"{base}/motifs.html",
        "matches": f"{base}/logos.png",
        "ism": f"{base}/variants/ism.tsv",
        "ism_plot": f"{base}/variants/ism.png",
    }
    if INTERPRET["variants"]["vcf"]:
        files["vcf"] = f"{base}/variants/vcf.tsv"
    return files


def vcf_window_inputs(wildcards):
    """What places a VCF's variants in a task's windows: the annotation (promoters, splice) or the train split (table)."""
    kind = TASKS[wildcards.task]["type"]
    if kind in ("promoters", "splice"):
        return {"annotation": task_source_file(config, wildcards.task, "annotation")}
    if kind == "table":
        return {"train": dataset_files(wildcards.task)["train"]}
    return {}


def zeroshot_files():
    """The zero-shot variant scores (with interpret.zeroshot.vcf)."""
    if not INTERPRET["zeroshot"]["vcf"]:
        return {}
    return {"table": "results/interpret/zeroshot/vcf.tsv"}


def zeroshot_model(wildcards):
    """The masked LM of the zero-shot scores: interpret.zeroshot.model, or this workflow's pretrained model."""
    reference = INTERPRET["zeroshot"]["model"]
    return model_input(reference) if reference else pretrain_files()["model"]


def interpret_model(wildcards):
    """The interpreted fine-tuned model directory of a task."""
    task = wildcards.task
    return finetune_run_files(task, interpret_seed(task))["model"]


def interpret_inputs(wildcards):
    """The model and the dataset splits that are scored."""
    splits = dataset_files(wildcards.task)
    inputs = {split: splits[split] for split in INTERPRET["splits"]}
    inputs["model"] = interpret_model(wildcards)
    return inputs


def planted_motifs():
    """Task -> (factor, JASPAR id) for peaks tasks on the simulated genome's peaks (the ground truth)."""
    if not SIMULATE:
        return {}
    motif_of = {tf["name"]: tf["motif"] for tf in SIMULATE["tfs"]}
    planted = {}
    for task in interpret_tasks():
        source = TASKS[task].get("peaks") or {}
        factor = Path(str(source.get("simulated", ""))).name.split(".")[0]
        if factor in motif_of:
            planted[task] = (factor, motif_of[factor])
    return planted


def recovery_files():
    """The planted-motif recovery table and its report page."""
    return {
        "table": "results/interpret/recovery.tsv",
        "page": "results/interpret/recovery.html",
    }


def interpret_targets():
    """Every interpreted task's outputs, and the planted-motif table on a simulated genome."""
    targets = [
        path for task in interpret_tasks() for path in interpret_files(task).values()
    ]
    if planted_motifs():
        targets += list(recovery_files().values())
    return targets + list(zeroshot_files().values())
