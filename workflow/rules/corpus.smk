# The pretraining corpus: the genome split at N runs, cut into DNABERT-style
# pieces and tokenised into k-mer shards with a manifest. Every task's test
# intervals are cut out of it first (results/corpus/exclude.bed), so the DAG runs
# datasets -> corpus -> pretraining.


include: "functions/corpus.smk"


rule corpus_exclusion:
    input:
        corpus_exclusion_inputs,
    output:
        CORPUS_EXCLUSION,
    log:
        "logs/build_corpus/exclusion.log",
    conda:
        "../../envs/datasets.yaml"
    params:
        tasks=list(TASKS),
    script:
        "../scripts/corpus_exclusion.py"


rule build_corpus:
    input:
        unpack(corpus_inputs),
    output:
        directory("results/corpus/k{k}"),
    log:
        "logs/build_corpus/k{k}.log",
    benchmark:
        "benchmarks/build_corpus/k{k}.tsv"
    conda:
        "../../envs/corpus.yaml"
    params:
        settings=config["corpus"],
        exclude=corpus_excluded_chromosomes(),
    script:
        "../scripts/build_corpus.py"
