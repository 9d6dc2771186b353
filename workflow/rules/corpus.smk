# The pretraining corpus: the genome split at N runs, cut into DNABERT-style
# pieces and tokenised into k-mer shards with a manifest.


include: "functions/corpus.smk"


rule build_corpus:
    input:
        **genome_files(),
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
