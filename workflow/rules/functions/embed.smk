# Functions and constants of the embeddings of tasks' test splits (rules in embed.smk).
from dnabert.config.validation import ConfigError

EMBED = config["embed"]


def embed_tasks():
    """The tasks whose test split is embedded (embed.tasks), checked against tasks:."""
    unknown = [task for task in EMBED["tasks"] if task not in TASKS]
    if unknown:
        raise ConfigError(
            [
                f"embed.tasks: unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASKS) or 'none'}"
            ],
            [str(f) for f in workflow.configfiles],
        )
    return list(EMBED["tasks"])


def embed_files(task="{task}"):
    """Outputs of one task's embeddings, by key."""
    base = f"results/embed/{task}"
    return {
        "vectors": f"{base}/test.npy",
        "index": f"{base}/index.tsv",
        "projection": f"{base}/projection.png",
    }


def embed_model(wildcards):
    """The model that embeds: the task's fine-tuned model (interpret.seed or its first seed) or the pretrained one."""
    if EMBED["model"] == "pretrained":
        return pretrain_files()["model"]
    return interpret_model(wildcards)


def embed_targets():
    """Every embedded task's outputs."""
    return [path for task in embed_tasks() for path in embed_files(task).values()]
