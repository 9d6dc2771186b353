# Functions and constants of MLM pretraining (rules in pretrain.smk).
import shlex
import sys

from snakemake.settings.types import DeploymentMethod

from dnabert.lm.pretrain.launch import job_resources, launcher

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
        inputs["pretrained"] = model_input(PRETRAIN["pretrained"])
    return inputs


def pretrain_settings():
    """The pretrain: section as the job reads it (a Hub id replaced by its fetched directory)."""
    if not PRETRAIN["pretrained"]:
        return PRETRAIN
    return {**PRETRAIN, "pretrained": model_input(PRETRAIN["pretrained"])}


def pretrain_launcher():
    """`python -m` (claiming the job's GPU slot), torchrun on one node (DDP, one process
    per GPU) or srun + torchrun across pretrain.nodes nodes: dnabert.lm.pretrain.launch.

    Under --use-conda the environment's python is on PATH; otherwise the Python running
    Snakemake (the virtualenv's) is used, whatever PATH holds.
    """
    with_conda = (
        DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    )
    python = "python" if with_conda else shlex.quote(sys.executable)
    return launcher(python, PRETRAIN["gpus"], PRETRAIN["nodes"], PRETRAIN["threads"])


def pretrain_resources():
    """gpu (per job) on one node; nodes and per-node gres (SLURM) across several."""
    return job_resources(PRETRAIN["gpus"], PRETRAIN["nodes"])
