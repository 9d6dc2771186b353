# Interpretation of fine-tuned models: DNABERT's per-nucleotide attention (with
# integrated gradients as a cross-check), motifs found from attention, TOMTOM
# against JASPAR, planted-motif recovery on the simulated genome, and variant
# effects (a fine-tuned classifier's, and zero-shot from the pretrained masked LM).
# Logic in dnabert.interpret.stage, dnabert.interpret.attention,
# dnabert.interpret.motifs and dnabert.interpret.variants; input functions in
# functions/interpret.smk.


include: "functions/interpret.smk"


rule interpret_attention:
    input:
        unpack(interpret_inputs),
    output:
        scores=interpret_files()["scores"],
        agreement=interpret_files()["agreement"],
        heatmap=report(
            interpret_files()["heatmap"],
            caption="../report/attention_heatmap.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
        ),
        profile=report(
            interpret_files()["profile"],
            caption="../report/attention_profile.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
        ),
    log:
        "logs/interpret/{task}/attention.log",
    benchmark:
        "benchmarks/interpret/{task}/attention.tsv"
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


rule interpret_motifs:
    input:
        scores=interpret_files()["scores"],
    output:
        meme=interpret_files()["meme"],
        summary=interpret_files()["summary"],
        instances=interpret_files()["instances"],
        bed=interpret_files()["bed"],
        logos=directory(interpret_files()["logos"]),
    log:
        "logs/interpret/{task}/motifs.log",
    benchmark:
        "benchmarks/interpret/{task}/motifs.tsv"
    conda:
        "../../envs/interpret.yaml"
    params:
        settings=interpret_settings("motifs"),
    script:
        "../scripts/interpret_motifs.py"


rule interpret_tomtom:
    input:
        meme=interpret_files()["meme"],
        summary=interpret_files()["summary"],
    output:
        tomtom=interpret_files()["tomtom"],
        page=report(
            interpret_files()["page"],
            caption="../report/motif_table.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
        ),
        matches=report(
            interpret_files()["matches"],
            caption="../report/motif_matches.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
        ),
    log:
        "logs/interpret/{task}/tomtom.log",
    conda:
        "../../envs/interpret.yaml"
    threads: INTERPRET["threads"]
    params:
        settings=interpret_settings("tomtom"),
    script:
        "../scripts/interpret_tomtom.py"


rule planted_motif_recovery:
    input:
        [interpret_files(task)["tomtom"] for task in planted_motifs()],
    output:
        table=recovery_files()["table"],
        page=report(
            recovery_files()["page"],
            caption="../report/motif_recovery.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="planted motifs",
        ),
    log:
        "logs/interpret/recovery.log",
    conda:
        "../../envs/interpret.yaml"
    params:
        planted=planted_motifs(),
        qvalue=INTERPRET["qvalue"],
    script:
        "../scripts/interpret_recovery.py"


rule interpret_ism:
    input:
        model=interpret_model,
        test=dataset_files()["test"],
    output:
        table=interpret_files()["ism"],
        plot=report(
            interpret_files()["ism_plot"],
            caption="../report/ism.rst",
            category=REPORT_CATEGORIES["interpretation"],
            subcategory="{task}",
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
