# Functions of the corpus stage (rules in corpus.smk).

CORPUS_EXCLUSION = "results/corpus/exclude.bed"


def corpus_excluded_chromosomes():
    """Chromosomes left out of pretraining: the fine-tuning test chromosomes, if configured so."""
    if not config["corpus"]["exclude_test_chromosomes"]:
        return []
    return list(config.get("splits", {}).get("test", []))


def corpus_masks_test_intervals():
    """Whether every task's test intervals are cut out of the corpus (needs tasks)."""
    return bool(config["corpus"]["exclude_test_intervals"] and TASKS)


def corpus_exclusion_inputs(wildcards):
    """The test split of every task, in task order."""
    return [dataset_files(task)["test"] for task in TASKS]


def corpus_inputs(wildcards):
    """The genome and, when configured, the BED of test intervals to cut out."""
    inputs = dict(genome_files())
    if corpus_masks_test_intervals():
        inputs["mask"] = CORPUS_EXCLUSION
    return inputs


def corpus_dir(k=None):
    """The tokenised pretraining corpus for k-mer length ``k`` (default: config kmer)."""
    return f"results/corpus/k{k or config['kmer']}"
