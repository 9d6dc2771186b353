# Functions and constants of MLM pretraining (rules in pretrain.smk).
import shlex
import sys

from snakemake.settings.types import DeploymentMethod

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


def pretrain_settings():
    """The pretrain: section the job trains with (overwrite is passed on its own, see below)."""
    return {key: value for key, value in PRETRAIN.items() if key != "overwrite"}


def pretrain_model_output():
    """The model directory: update() (left in place for the job's overwrite check), protected() unless overwrite."""
    model = update(directory(pretrain_files()["model"]))
    return model if PRETRAIN["overwrite"] else protected(model)


def pretrain_overwrite_flag(wildcards, output):
    """`--overwrite` when pretrain.overwrite is true.

    A function of the outputs, so Snakemake counts it as derived from them and leaves
    it out of its params rerun trigger: switching overwrite on or off reruns nothing.
    """
    return "--overwrite" if PRETRAIN["overwrite"] else ""
