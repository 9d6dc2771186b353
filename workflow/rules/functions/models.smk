# Functions of model references (rules in models.smk). A model is a local directory
# or a Hugging Face Hub id, which the fetch_model rule brings to resources/models/.
from dnabert.lm.hub import MODELS_DIR, hub_id_of_dir, local_model_dir


def model_references():
    """Role -> model reference of every model the config names (local directories and Hub ids)."""
    references = {}
    if config["pretrain"]["pretrained"]:
        references["pretrain.pretrained"] = config["pretrain"]["pretrained"]
    for task in TASKS:
        settings = task_settings(config, task)
        if settings.get("init") == "released" and settings.get("released"):
            references[f"finetune {task}: released"] = settings["released"]
    zeroshot = INTERPRET["zeroshot"]
    if zeroshot["vcf"] and zeroshot["model"]:
        references["interpret.zeroshot.model"] = zeroshot["model"]
    return references


def model_input(reference):
    """Where rules read a model reference from: the directory, or resources/models/<org--name> for a Hub id."""
    return local_model_dir(reference)


def fetched_model_id(wildcards):
    """The Hub id (org/name[@revision]) of a resources/models/<dirname> directory."""
    return str(hub_id_of_dir(wildcards.model))
