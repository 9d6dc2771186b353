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
    """The pretrain: section as the job reads it: a Hub id replaced by its fetched
    directory, overwrite left out (so switching it reruns nothing)."""
    settings = {key: value for key, value in PRETRAIN.items() if key != "overwrite"}
    if settings["pretrained"]:
        settings["pretrained"] = model_input(settings["pretrained"])
    return settings


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


def pretrain_model_output():
    """The model directory output: protected() unless pretrain.overwrite (then it may be replaced)."""
    model = directory(pretrain_files()["model"])
    return model if PRETRAIN["overwrite"] else protected(model)


def refuse_pretrain_overwrite(dag):
    """Stop before any job runs if pretraining would replace a finished model and overwrite is false.

    Snakemake reruns pretrain_mlm when its settings, code or inputs change, and
    deletes its outputs first; protected() does not stop root. Called by onstart
    (common.smk). A forced rerun (--forcerun, -R) counts as asking for it; so does
    an incomplete model (a killed run).
    """
    files = pretrain_files()
    finished = (Path(files["model"]) / "config.json").is_file() and Path(
        files["metrics"]
    ).is_file()
    if PRETRAIN["overwrite"] or not finished:
        return
    for job in dag.needrun_jobs():
        reason = dag.reason(job)
        if job.rule.name == "pretrain_mlm" and not (
            reason.forced or reason.incomplete_output
        ):
            why = ", ".join(reason.get_names())
            raise ConfigError(
                [
                    f"{files['model']}: field 'pretrain.overwrite': a finished pretrained model is here and "
                    f"Snakemake would retrain over it ({why}); set pretrain.overwrite: true to replace it, or "
                    f"move it away to keep it"
                ],
                [str(f) for f in workflow.configfiles],
            )
