# Functions of the corpus stage (rules in corpus.smk).


def corpus_excluded_chromosomes():
    """Chromosomes left out of pretraining: the fine-tuning test chromosomes, if configured so."""
    if not config["corpus"]["exclude_test_chromosomes"]:
        return []
    return list(config.get("splits", {}).get("test", []))


def corpus_dir(k=None):
    """The tokenised pretraining corpus for k-mer length ``k`` (default: config kmer)."""
    return f"results/corpus/k{k or config['kmer']}"
