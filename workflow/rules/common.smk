# Shared set-up: config validation, input functions, wildcard constraints.
import sys
from pathlib import Path

# The dnabert package holds all logic; make it importable even where it is not
# installed (e.g. the Python that runs Snakemake under --use-conda).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from dnabert.config import SIMULATED_FILES, source_file, validate_config

validate_config(
    config,
    Path(workflow.basedir) / "config" / "schema" / "config.schema.yaml",
    [str(f) for f in workflow.configfiles],
)

GENOME = config["genome"]["name"]
SIMULATE = config["genome"].get("simulate")
TF_NAMES = [tf["name"] for tf in SIMULATE["tfs"]] if SIMULATE else []


wildcard_constraints:
    genome=r"[A-Za-z0-9_.-]+",
    download=r"[A-Za-z0-9_.-]+",
    k=r"[3-6]",


def genome_files(genome=GENOME):
    """The normalised genome: bgzipped FASTA, its indices and chrom.sizes."""
    base = f"resources/genome/{genome}"
    return {
        "fasta": f"{base}/genome.fa.gz",
        "fai": f"{base}/genome.fa.gz.fai",
        "gzi": f"{base}/genome.fa.gz.gzi",
        "sizes": f"{base}/chrom.sizes",
    }


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
    return {name: spec for name, spec in sources.items() if spec and "url" in spec}


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


def corpus_excluded_chromosomes():
    """Chromosomes left out of pretraining: the fine-tuning test chromosomes, if configured so."""
    if not config["corpus"]["exclude_test_chromosomes"]:
        return []
    return list(config.get("splits", {}).get("test", []))


def corpus_dir(k=None):
    """The tokenised pretraining corpus for k-mer length ``k`` (default: config kmer)."""
    return f"results/corpus/k{k or config['kmer']}"


def all_targets():
    """What `snakemake` builds by default."""
    return genome_targets() + [corpus_dir()]
