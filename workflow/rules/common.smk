# Shared set-up: config validation, input functions, wildcard constraints.
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.settings.types import DeploymentMethod

# The dnabert package holds all logic; make it importable even where it is not
# installed (e.g. the Python that runs Snakemake under --use-conda).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from dnabert.config.validation import (
    ConfigError,
    SIMULATED_FILES,
    resolve_download,
    source_file,
    task_download_name,
    task_source_file,
    task_sources,
    validate_config,
)

from dnabert.config.finetune import (
    add_gue_tasks,
    encoder_source,
    finetune_problems,
    prediction_seed,
    task_seeds,
    task_settings,
)

# A GUE / DNABERT-2 benchmark folder (finetune.gue.folder) adds one table task per
# sub-folder of train/dev/test CSVs, before the tasks are validated.
add_gue_tasks(config)

validate_config(
    config,
    Path(workflow.basedir) / "config" / "schema" / "config.schema.yaml",
    [str(f) for f in workflow.configfiles],
)

GENOME = config["genome"]["name"]
SIMULATE = config["genome"].get("simulate")
TF_NAMES = [tf["name"] for tf in SIMULATE["tfs"]] if SIMULATE else []


wildcard_constraints:
    genome=r"[A-Za-z0-9_.-]+",
    download=r"[A-Za-z0-9_.-]+",
    task=r"[A-Za-z0-9_-]+",
    k=r"[3-6]",


def genome_files(genome=GENOME):
    """The normalised genome: bgzipped FASTA, its indices and chrom.sizes."""
    base = f"resources/genome/{genome}"
    return {
        "fasta": f"{base}/genome.fa.gz",
        "fai": f"{base}/genome.fa.gz.fai",
        "gzi": f"{base}/genome.fa.gz.gzi",
        "sizes": f"{base}/chrom.sizes",
    }


def simulated_files(genome=GENOME):
    """Everything the genome simulation writes, by name."""
    base = f"resources/simulated/{genome}"
    files = {
        Path(name).name.split(".")[0]: f"{base}/{name}" for name in SIMULATED_FILES
    }
    files.update({f"peaks_{tf}": f"{base}/peaks/{tf}.narrowPeak.gz" for tf in TF_NAMES})
    return files


def downloads():
    """Download targets by file name under resources/download/{genome}/, with their source mapping."""
    sources = {
        "genome.fa.gz": config["genome"],
        "blacklist.bed.gz": config["genome"]["blacklist"],
    }
    found = {name: spec for name, spec in sources.items() if spec and "url" in spec}
    for (task, role), spec in task_sources(config).items():
        if "url" in spec or "encode" in spec:
            found[task_download_name(task, role, spec)] = resolve_download(spec)
    return found


def download_spec(wildcards):
    """The config source mapping behind one download target."""
    try:
        return downloads()[wildcards.download]
    except KeyError:
        raise ValueError(
            f"no url configured for resources/download/{wildcards.genome}/{wildcards.download}"
        )


def raw_genome(wildcards):
    """The genome FASTA as acquired (path, download or simulation), before normalisation."""
    return source_file(config["genome"], wildcards.genome, "genome.fa.gz")


def raw_blacklist(wildcards):
    """The configured blacklist as acquired, before sorting and clipping to the genome."""
    return source_file(
        config["genome"]["blacklist"], wildcards.genome, "blacklist.bed.gz"
    )


def genome_targets():
    targets = list(genome_files().values())
    if config["genome"]["blacklist"] is not None:
        targets.append(f"resources/genome/{GENOME}/blacklist.bed.gz")
    if SIMULATE:
        targets += list(simulated_files().values())
    return targets


def corpus_excluded_chromosomes():
    """Chromosomes left out of pretraining: the fine-tuning test chromosomes, if configured so."""
    if not config["corpus"]["exclude_test_chromosomes"]:
        return []
    return list(config.get("splits", {}).get("test", []))


def corpus_dir(k=None):
    """The tokenised pretraining corpus for k-mer length ``k`` (default: config kmer)."""
    return f"results/corpus/k{k or config['kmer']}"


TASKS = config["tasks"]
SPLITS = ("train", "dev", "test")
QC_FILES = {
    "counts": "counts.tsv",
    "composition": "composition.tsv",
    "summary": "summary.json",
    "plot": "gc_content.png",
}


def dataset_files(task="{task}"):
    """The three splits of one task dataset, by split name."""
    return {split: f"results/datasets/{task}/{split}.tsv.gz" for split in SPLITS}


def dataset_qc_files(task="{task}"):
    """The QC files of one task dataset, by key."""
    return {key: f"results/datasets/{task}/qc/{name}" for key, name in QC_FILES.items()}


def dataset_inputs(wildcards):
    """A task's input files by role, plus the genome and blacklist for genome-based tasks."""
    inputs = {
        role: task_source_file(config, task, role)
        for (task, role) in task_sources(config)
        if task == wildcards.task
    }
    if TASKS[wildcards.task]["type"] != "table":
        inputs.update(genome_files())
        if config["genome"]["blacklist"] is not None:
            inputs["blacklist"] = f"resources/genome/{GENOME}/blacklist.bed.gz"
    return inputs


def dataset_targets():
    """Every configured task's splits and QC files."""
    targets = []
    for task in TASKS:
        targets += list(dataset_files(task).values())
        targets += list(dataset_qc_files(task).values())
    return targets


PRETRAIN = config["pretrain"]


def pretrain_files():
    """Outputs of MLM pretraining, by key (the model is a Hugging Face directory)."""
    base = "results/pretrain"
    return {
        "model": f"{base}/model",
        "metrics": f"{base}/metrics.json",
        "history": f"{base}/training_log.csv",
        "plot": f"{base}/loss.png",
    }


def pretrain_inputs(wildcards):
    """The corpus for the configured k, and the model to start from, if any."""
    inputs = {"corpus": corpus_dir()}
    if PRETRAIN["pretrained"]:
        inputs["pretrained"] = PRETRAIN["pretrained"]
    return inputs


def pretrain_launcher():
    """`python -m`, or torchrun (DDP, one process per GPU) when more than one GPU is configured.

    Under --use-conda the environment's python is on PATH; otherwise the Python running
    Snakemake (the virtualenv's) is used, whatever PATH holds.
    """
    with_conda = (
        DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    )
    python = "python" if with_conda else shlex.quote(sys.executable)
    if PRETRAIN["gpus"] > 1:
        return f"{python} -m torch.distributed.run --standalone --nproc_per_node {PRETRAIN['gpus']} -m"
    return f"{python} -m"


# Fine-tuning, baselines, the benchmark table and predictions (rules in finetune.smk).
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


def all_targets():
    """What `snakemake` builds by default."""
    return (
        genome_targets()
        + [corpus_dir()]
        + dataset_targets()
        + list(pretrain_files().values())
        + benchmark_targets()
        + interpret_targets()
    )


# The HTML report (rules in report.smk). Categories are numbered so that the report's
# menu, which sorts them by name, lists them in the order of the pipeline; every
# stage's report() outputs use these names, with the task as subcategory.
REPORT_CATEGORIES = {
    "overview": "1. Overview",
    "data": "2. Data",
    "pretraining": "3. Pretraining",
    "finetuning": "4. Fine-tuning",
    "interpretation": "5. Interpretation",
    "cost": "6. Cost",
}
REPORT_DIR = "results/report"


def report_stage_files():
    """The report's own tables and figures (beside the stages' report() outputs), by key."""
    files = {
        "overview": f"{REPORT_DIR}/overview.html",
        "pretrain": f"{REPORT_DIR}/pretraining/metrics.html",
        "cost_table": f"{REPORT_DIR}/cost/cost.html",
        "cost_tsv": f"{REPORT_DIR}/cost/cost.tsv",
        "cost_plot": f"{REPORT_DIR}/cost/cost.png",
    }
    if TASKS:
        files["benchmarks"] = f"{REPORT_DIR}/finetuning/test_metrics.html"
    for task in TASKS:
        files[f"dataset_{task}"] = f"{REPORT_DIR}/data/{task}/dataset.html"
        files[f"curves_{task}"] = f"{REPORT_DIR}/finetuning/{task}/roc_pr_curves.png"
        files[f"confusion_{task}"] = (
            f"{REPORT_DIR}/finetuning/{task}/confusion_matrices.png"
        )
    return files


def report_targets():
    """The report page and what it needs beyond all_targets()."""
    return ["results/report.html"]


def provenance_files():
    """Files the overview lists with their SHA-256: the genome as read and normalised, every task input."""
    files = {"genome (as read)": raw_genome(SimpleNamespace(genome=GENOME))}
    files["genome (normalised)"] = genome_files()["fasta"]
    if config["genome"]["blacklist"] is not None:
        files["blacklist (prepared)"] = f"resources/genome/{GENOME}/blacklist.bed.gz"
    for task, role in task_sources(config):
        files[f"{task} {role}"] = task_source_file(config, task, role)
    return files


def report_prediction_inputs(wildcards):
    """A task's test predictions: every fine-tuning seed, every baseline, and the task's metrics."""
    task = wildcards.task
    inputs = {
        "finetuned": [
            finetune_run_files(task, seed)["predictions"]
            for seed in task_seeds(config, task)
        ],
        "metrics": f"results/finetune/{task}/metrics.json",
    }
    for name in BASELINES["models"]:
        inputs[name] = f"results/baselines/{task}/{name}/predictions.tsv"
    return inputs


def benchmark_patterns():
    """Rule name -> its benchmark: file pattern, for every rule that has one."""
    return {rule.name: str(rule.benchmark) for rule in workflow.rules if rule.benchmark}


# Interpretation of fine-tuned models (rules in interpret.smk).
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
    return targets
