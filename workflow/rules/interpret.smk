# Interpretation of fine-tuned models, for the model of every interpreted seed:
# DNABERT's per-nucleotide attention (layer and heads chosen on dev) and integrated
# gradients, motifs from two engines (DNABERT's attention-region discovery and
# TF-MoDISco on integrated gradients) with TOMTOM against JASPAR, planted-motif
# recovery on the simulated genome, and variant effects (a fine-tuned classifier's,
# and zero-shot from the pretrained masked LM). Logic in
# dnabert.interpret.{scoring,stage,recovery} and dnabert.interpret.variants;
# input functions in functions/interpret.smk.


include: "functions/interpret.smk"


rule interpret_attention:
    input:
        unpack(interpret_inputs),
    output:
        scores=interpret_files()["scores"],
        selection=interpret_files()["selection"],
        agreement=interpret_files()["agreement"],
        heatmap=report(
            interpret_files()["heatmap"],
            caption="../report/attention_heatmap.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
            labels={"seed": "{seed}", "figure": "attention heatmap"},
        ),
        profile=report(
            interpret_files()["profile"],
            caption="../report/attention_profile.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
            labels={"seed": "{seed}", "figure": "attention profile"},
        ),
    log:
        "logs/interpret/{task}/seed{seed}/scores.log",
    benchmark:
        "benchmarks/interpret/{task}/seed{seed}/scores.tsv"
    conda:
        "../../envs/interpret.yaml"
    threads: INTERPRET["threads"]
    resources:
        gpu=INTERPRET["gpus"],
    params:
        settings=interpret_settings("attention"),
        seed=config["splits"]["seed"],
        device="cuda" if INTERPRET["gpus"] else "cpu",
    script:
        "../scripts/interpret_attention.py"


rule interpret_numba_cache:
    output:
        numba_stamp(),
    log:
        "logs/interpret/numba_cache.log",
    benchmark:
        "benchmarks/interpret/numba_cache.tsv"
    conda:
        "../../envs/interpret.yaml"
    params:
        numba_cache=numba_cache(),
    script:
        "../scripts/interpret_numba_cache.py"


rule interpret_motifs:
    input:
        scores=interpret_files()["scores"],
        numba=numba_stamp(),
    output:
        meme=motif_files()["meme"],
        summary=motif_files()["summary"],
        instances=motif_files()["instances"],
        bed=motif_files()["bed"],
        logos=directory(motif_files()["logos"]),
        tomtom=motif_files()["tomtom"],
        page=report(
            motif_files()["page"],
            caption="../report/motif_table.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
            labels={"seed": "{seed}", "figure": "{engine} motifs"},
        ),
        matches=report(
            motif_files()["matches"],
            caption="../report/motif_matches.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
            labels={"seed": "{seed}", "figure": "{engine} logos"},
        ),
    log:
        "logs/interpret/{task}/seed{seed}/{engine}_motifs.log",
    benchmark:
        "benchmarks/interpret/{task}/seed{seed}/{engine}_motifs.tsv"
    wildcard_constraints:
        engine=ENGINE_PATTERN,
    conda:
        "../../envs/interpret.yaml"
    threads: 1
    params:
        settings=engine_settings,
        seed=config["splits"]["seed"],
        numba_cache=numba_cache(),
    script:
        "../scripts/interpret_motifs.py"


# The recovery table takes seconds.
localrules:
    planted_motif_recovery,


rule planted_motif_recovery:
    input:
        list(recovery_runs().values()),
    output:
        table=recovery_files()["table"],
        page=report(
            recovery_files()["page"],
            caption="../report/motif_recovery.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="planted motifs",
            labels={"seed": "all", "figure": "recovery"},
        ),
    log:
        "logs/interpret/recovery.log",
    conda:
        "../../envs/interpret.yaml"
    params:
        planted=planted_motifs(),
        runs=[list(key) for key in recovery_runs()],
        qvalue=INTERPRET["qvalue"],
    script:
        "../scripts/interpret_recovery.py"


rule interpret_ism:
    input:
        model=interpret_model,
        test=dataset_files()["test"],
    output:
        table=variant_files()["ism"],
        plot=report(
            variant_files()["ism_plot"],
            caption="../report/ism.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
            labels={"seed": "first", "figure": "in-silico mutagenesis"},
        ),
    log:
        "logs/interpret/{task}/ism.log",
    benchmark:
        "benchmarks/interpret/{task}/ism.tsv"
    conda:
        "../../envs/interpret.yaml"
    threads: INTERPRET["threads"]
    resources:
        gpu=INTERPRET["gpus"],
    params:
        top=INTERPRET["variants"]["ism_sequences"],
        device="cuda" if INTERPRET["gpus"] else "cpu",
    script:
        "../scripts/interpret_ism.py"


rule interpret_vcf:
    input:
        unpack(vcf_window_inputs),
        **genome_files(),
        model=interpret_model,
        vcf=INTERPRET["variants"]["vcf"] or [],
    output:
        "results/interpret/{task}/variants/vcf.tsv",
    log:
        "logs/interpret/{task}/vcf.log",
    conda:
        "../../envs/interpret.yaml"
    threads: INTERPRET["threads"]
    resources:
        gpu=INTERPRET["gpus"],
    params:
        task=lambda wildcards: TASKS[wildcards.task],
        on_mismatch=INTERPRET["variants"]["on_mismatch"],
        device="cuda" if INTERPRET["gpus"] else "cpu",
    script:
        "../scripts/interpret_vcf.py"


rule interpret_zeroshot:
    input:
        **genome_files(),
        model=zeroshot_model,
        vcf=INTERPRET["zeroshot"]["vcf"] or [],
    output:
        "results/interpret/zeroshot/vcf.tsv",
    log:
        "logs/interpret/zeroshot.log",
    benchmark:
        "benchmarks/interpret/zeroshot.tsv"
    conda:
        "../../envs/interpret.yaml"
    threads: INTERPRET["threads"]
    resources:
        gpu=INTERPRET["gpus"],
    params:
        window=INTERPRET["zeroshot"]["window"],
        on_mismatch=INTERPRET["variants"]["on_mismatch"],
        device="cuda" if INTERPRET["gpus"] else "cpu",
    script:
        "../scripts/interpret_zeroshot.py"


rule interpret:
    input:
        interpret_targets(),
