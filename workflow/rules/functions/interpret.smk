# Functions and constants of the interpretation of fine-tuned models (rules in
# interpret.smk).
from pathlib import Path

from dnabert.config.finetune import task_seeds
from dnabert.config.validation import task_source_file
from dnabert.config.validation import ConfigError

INTERPRET = config["interpret"]
ENGINES = list(INTERPRET["engines"])
ENGINE_PATTERN = "|".join(["attention", "modisco"])


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


def interpret_seeds(task):
    """The fine-tuning seeds whose models are interpreted (interpret.seeds, or every seed of the task)."""
    seeds = task_seeds(config, task)
    chosen = list(INTERPRET["seeds"]) if INTERPRET["seeds"] is not None else seeds
    missing = [seed for seed in chosen if seed not in seeds]
    if missing:
        raise ConfigError(
            [
                f"interpret.seeds: {missing} not fine-tuning seed(s) of task {task} ({seeds})"
            ],
            [str(f) for f in workflow.configfiles],
        )
    return chosen


# The interpret: keys each step reads (so that changing one step's settings reruns only it).
INTERPRET_STEP_KEYS = {
    "attention": (
        "splits",
        "max_sequences",
        "batch_size",
        "attention",
        "attribution",
    ),
    "attention_motifs": ("motifs", "jaspar", "qvalue"),
    "modisco_motifs": ("modisco", "jaspar", "qvalue"),
}


def interpret_settings(step):
    """The part of the interpret: section one step uses."""
    return {key: INTERPRET[key] for key in INTERPRET_STEP_KEYS[step]}


def engine_settings(wildcards):
    """The interpret: keys an engine's motif step reads."""
    return interpret_settings(f"{wildcards.engine}_motifs")


def interpret_files(task="{task}", seed="{seed}"):
    """Outputs of scoring one task's sequences with the model of one seed, by key."""
    base = f"results/interpret/{task}/seed{seed}"
    return {
        "scores": f"{base}/scores.npz",
        "selection": f"{base}/attention/selection.tsv",
        "agreement": f"{base}/attention/agreement.tsv",
        "heatmap": f"{base}/attention/heatmap.png",
        "profile": f"{base}/attention/profile.png",
    }


def motif_files(task="{task}", seed="{seed}", engine="{engine}"):
    """Outputs of one motif engine for one task and seed, by key."""
    base = f"results/interpret/{task}/seed{seed}/{engine}"
    return {
        "meme": f"{base}/motifs.meme",
        "summary": f"{base}/motifs.tsv",
        "instances": f"{base}/instances.tsv",
        "bed": f"{base}/instances.bed",
        "logos": f"{base}/logos",
        "tomtom": f"{base}/tomtom.tsv",
        "matches": f"{base}/logos.png",
        "page": f"{base}/motifs.html",
    }


def variant_files(task="{task}"):
    """Variant-effect outputs of a task (the model of its first interpreted seed)."""
    base = f"results/interpret/{task}/variants"
    files = {"ism": f"{base}/ism.tsv", "ism_plot": f"{base}/ism.png"}
    if INTERPRET["variants"]["vcf"]:
        files["vcf"] = f"{base}/vcf.tsv"
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
    """The fine-tuned model directory of a task and seed (without a seed: the first interpreted seed)."""
    task = wildcards.task
    seed = getattr(wildcards, "seed", None) or interpret_seeds(task)[0]
    return finetune_run_files(task, seed)["model"]


def interpret_inputs(wildcards):
    """The model and the dataset splits that are scored (dev always: the heads are chosen on it)."""
    splits = dataset_files(wildcards.task)
    inputs = {split: splits[split] for split in INTERPRET["splits"]}
    inputs["dev"] = splits["dev"]
    inputs["model"] = interpret_model(wildcards)
    return inputs


def numba_cache():
    """Where memelite's and modisco-lite's compiled numba kernels are kept between jobs."""
    return "resources/numba/cache"


def numba_stamp():
    """Written once the numba kernels are compiled into numba_cache() (versions and compile times)."""
    return "resources/numba/compiled.tsv"


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


def recovery_runs():
    """(task, seed, engine) -> TOMTOM table of every planted-motif task's models and engines."""
    return {
        (task, seed, engine): motif_files(task, seed, engine)["tomtom"]
        for task in planted_motifs()
        for seed in interpret_seeds(task)
        for engine in ENGINES
    }


def recovery_files():
    """The planted-motif recovery table and its report page."""
    return {
        "table": "results/interpret/recovery.tsv",
        "page": "results/interpret/recovery.html",
    }


def interpret_targets():
    """Every interpreted task's outputs, and the planted-motif table on a simulated genome."""
    targets = []
    for task in interpret_tasks():
        for seed in interpret_seeds(task):
            targets += list(interpret_files(task, seed).values())
            for engine in ENGINES:
                targets += list(motif_files(task, seed, engine).values())
        targets += list(variant_files(task).values())
    if planted_motifs():
        targets += list(recovery_files().values())
    return targets + list(zeroshot_files().values())
