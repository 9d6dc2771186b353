# Functions and constants of the genome stage (rules in genome.smk): the simulation's
# outputs, downloads and the genome and blacklist as acquired.
from pathlib import Path

from dnabert.config.validation import (
    SIMULATED_FILES,
    resolve_download,
    source_file,
    task_download_name,
    task_sources,
)

TF_NAMES = [tf["name"] for tf in SIMULATE["tfs"]] if SIMULATE else []


def simulated_files(genome=GENOME):
    """Everything the genome simulation writes, by name."""
    base = f"resources/simulated/{genome}"
    files = {
        Path(name).name.split(".")[0]: f"{base}/{name}" for name in SIMULATED_FILES
    }
    files.update({f"peaks_{tf}": f"{base}/peaks/{tf}.narrowPeak.gz" for tf in TF_NAMES})
    return files


def downloads():
    """Download targets by file name under resources/download/{genome}/, with their source mapping."""
    sources = {
        "genome.fa.gz": config["genome"],
        "blacklist.bed.gz": config["genome"]["blacklist"],
    }
    found = {name: spec for name, spec in sources.items() if spec and "url" in spec}
    for (task, role), spec in task_sources(config).items():
        if "url" in spec or "encode" in spec:
            found[task_download_name(task, role, spec)] = resolve_download(spec)
    return found


def download_spec(wildcards):
    """The config source mapping behind one download target."""
    try:
        return downloads()[wildcards.download]
    except KeyError:
        raise ValueError(
            f"no url configured for resources/download/{wildcards.genome}/{wildcards.download}"
        )


def raw_genome(wildcards):
    """The genome FASTA as acquired (path, download or simulation), before normalisation."""
    return source_file(config["genome"], wildcards.genome, "genome.fa.gz")


def raw_blacklist(wildcards):
    """The configured blacklist as acquired, before sorting and clipping to the genome."""
    return source_file(
        config["genome"]["blacklist"], wildcards.genome, "blacklist.bed.gz"
    )


def genome_targets():
    targets = list(genome_files().values())
    if config["genome"]["blacklist"] is not None:
        targets.append(f"resources/genome/{GENOME}/blacklist.bed.gz")
    if SIMULATE:
        targets += list(simulated_files().values())
    return targets
