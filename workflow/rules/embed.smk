# Embeddings of each embed.tasks task's test split ([CLS], mean over k-mers, or per
# nucleotide, from any layer) and a 2-D PCA projection coloured by label, in the
# report. Logic in dnabert.lm.embeddings; input functions in functions/embed.smk.


include: "functions/embed.smk"


rule embed:
    input:
        model=embed_model,
        test=dataset_files()["test"],
    output:
        vectors=embed_files()["vectors"],
        index=embed_files()["index"],
        projection=report(
            embed_files()["projection"],
            caption="../report/embed_projection.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
        ),
    log:
        "logs/embed/{task}.log",
    benchmark:
        "benchmarks/embed/{task}.tsv"
    conda:
        "../../envs/interpret.yaml"
    threads: EMBED["threads"]
    resources:
        gpu=EMBED["gpus"],
    params:
        model=EMBED["model"],
        pooling=EMBED["pooling"],
        layer=EMBED["layer"],
        batch_size=EMBED["batch_size"],
        device="cuda" if EMBED["gpus"] else "cpu",
    script:
        "../scripts/embed.py"
