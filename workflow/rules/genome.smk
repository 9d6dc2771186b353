# Genome acquisition: simulate, download or take a local FASTA; normalise to
# bgzipped FASTA with .fai/.gzi and chrom.sizes; prepare the blacklist.


include: "functions/genome.smk"


# Downloads run where Snakemake runs (e.g. a cluster login node with internet),
# never as cluster jobs on compute nodes that may have none; the blacklist takes
# a second, not worth a cluster job.
localrules:
    download,
    prepare_blacklist,


rule simulate_genome:
    output:
        **simulated_files("{genome}"),
    log:
        "logs/simulate_genome/{genome}.log",
    benchmark:
        "benchmarks/simulate_genome/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        settings=SIMULATE,
    script:
        "../scripts/simulate_genome.py"


rule download:
    output:
        "resources/download/{genome}/{download}",
    log:
        "logs/download/{genome}/{download}.log",
    retries: 0
    conda:
        "../../envs/genome.yaml"
    params:
        source=download_spec,
        retries=config["download"]["retries"],
        timeout=config["download"]["timeout_seconds"],
    script:
        "../scripts/download.py"


rule prepare_genome:
    input:
        raw_genome,
    output:
        **genome_files("{genome}"),
    log:
        "logs/prepare_genome/{genome}.log",
    benchmark:
        "benchmarks/prepare_genome/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        chromosomes=config["genome"]["chromosomes"],
    script:
        "../scripts/prepare_genome.py"


rule prepare_blacklist:
    input:
        bed=raw_blacklist,
        sizes=rules.prepare_genome.output.sizes,
    output:
        "resources/genome/{genome}/blacklist.bed.gz",
    log:
        "logs/prepare_blacklist/{genome}.log",
    conda:
        "../../envs/genome.yaml"
    script:
        "../scripts/prepare_blacklist.py"
