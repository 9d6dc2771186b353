"""Config validation: schema errors name the key and what was expected; semantic checks."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from dnabert.config.validation import ConfigError, source_file, validate_config
from conftest import REPO

SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


def problems(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    return caught.value.problems


@pytest.mark.parametrize("name", ["config/config.yaml", "config/hg38.yaml", "config/mm10.yaml",
                                  "tests/config/tiny.yaml"])
def test_shipped_configs_validate(name):
    config = load(name)
    validate_config(config, SCHEMA)
    assert config["download"]["retries"] >= 1  # defaults filled in


def test_defaults_filled_for_minimal_config():
    config = {"genome": {"name": "g", "simulate": {}}}
    validate_config(config, SCHEMA)
    assert config["genome"]["simulate"]["gc"] == 0.41
    assert config["genome"]["chromosomes"]["include"] is None
    assert "chrM" in config["genome"]["chromosomes"]["exclude_regex"]
    assert [tf["name"] for tf in config["genome"]["simulate"]["tfs"]] == ["CTCF", "REST"]


def test_unknown_key_is_named():
    config = load("config/config.yaml")
    config["genome"]["simulate"]["sede"] = 1
    assert problems(config) == [
        "unknown key 'genome.simulate.sede'; allowed here: blacklist_regions, chromosomes, cpg_ratio, "
        "gc, genes, jaspar_release, n_gaps, repeat_fraction, seed, tata_fraction, tfs"
    ]


def test_unknown_top_level_key():
    config = load("config/config.yaml")
    config["genom"] = {}
    [problem] = problems(config)
    allowed = problem.removeprefix("unknown key 'genom'; allowed here: ").split(", ")
    assert problem.startswith("unknown key 'genom'; ") and {"download", "genome", "tasks"} <= set(allowed)


def test_wrong_type_names_key_and_expected_type():
    config = load("config/config.yaml")
    config["genome"]["simulate"]["seed"] = "forty-two"
    assert problems(config) == ["genome.simulate.seed: expected integer, got 'forty-two'"]


def test_bad_motif_id_and_range():
    config = load("config/config.yaml")
    config["genome"]["simulate"]["tfs"][0]["motif"] = "CTCF"
    config["genome"]["simulate"]["gc"] = 0.95
    found = problems(config)
    assert any(p.startswith("genome.simulate.gc: 0.95 is greater than or equal to") for p in found)
    assert any(p.startswith("genome.simulate.tfs.0.motif: 'CTCF' does not match") for p in found)


def test_missing_genome_file():
    found = problems({"genome": {"name": "g", "path": "/nonexistent/genome.fa.gz"}})
    assert found == ["genome.path: file not found: /nonexistent/genome.fa.gz"]


def test_missing_blacklist_file(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGT\n")
    config = {"genome": {"name": "g", "path": str(fasta), "blacklist": {"path": str(tmp_path / "bl.bed")}}}
    assert problems(config) == [f"genome.blacklist.path: file not found: {tmp_path / 'bl.bed'}"]


def test_exactly_one_genome_source():
    found = problems({"genome": {"name": "g", "url": "https://x/g.fa.gz", "md5": "0" * 32, "simulate": {}}})
    assert found == ["genome: give exactly one of path, url or simulate (found: url, simulate)"]
    found = problems({"genome": {"name": "g"}})
    assert found == ["genome: give exactly one of path, url or simulate (found: none)"]


def test_download_needs_checksum():
    found = problems({"genome": {"name": "g", "url": "https://example.org/g.fa.gz"}})
    assert found == ["genome.url: downloads must be checksummed: add md5: or sha256: "
                     "(or, if no published checksum exists, unverified: true)"]


def test_unverified_download_is_allowed_and_warned(caplog):
    """unverified: true replaces the checksum; validation then warns, naming each such file."""
    config = {"genome": {"name": "g", "url": "https://example.org/g.fa.gz", "unverified": True,
                         "blacklist": {"url": "https://example.org/bl.bed.gz", "md5": "0" * 32}}}
    config["tasks"] = {"nrf1": {"type": "peaks", "peaks": {"encode": "ENCFF407IVS", "unverified": True}}}
    with caplog.at_level("WARNING", logger="snakemake.logging"):
        validate_config(config, SCHEMA)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "genome: unverified download" in warnings[0] and "https://example.org/g.fa.gz" in warnings[0]
    assert "resources/download/g/genome.fa.gz.sha256" in warnings[0] and "pin it" in warnings[0]
    assert warnings[1].startswith("WARNING: tasks.nrf1.peaks: unverified download")
    assert "ENCFF407IVS/@@download/ENCFF407IVS.bed.gz" in warnings[1]
    assert "resources/download/g/task.nrf1.peaks.ENCFF407IVS.bed.gz" in warnings[1]


def test_unverified_misuse_is_an_error(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGT\n")
    found = problems({"genome": {"name": "g", "url": "https://example.org/g.fa.gz", "unverified": False}})
    assert found == ["genome.url: downloads must be checksummed: add md5: or sha256: "
                     "(or, if no published checksum exists, unverified: true)"]
    found = problems({"genome": {"name": "g", "url": "https://example.org/g.fa.gz", "md5": "0" * 32,
                                 "unverified": True}})
    assert found == ["genome.unverified: give either a checksum (md5/sha256) or unverified: true, not both"]
    found = problems({"genome": {"name": "g", "path": str(fasta), "unverified": True}})
    assert found == ["genome.unverified: only for downloads (url or encode), not path"]
    found = problems({"genome": {"name": "g", "simulate": {}, "unverified": True}})
    assert found == ["genome.unverified: only for downloads (url), not simulate"]
    found = problems({"genome": {"name": "g", "url": "https://example.org/g.fa.gz", "unverified": "yes"}})
    assert found == ["genome.unverified: expected boolean, got 'yes'"]


def test_bad_checksum_format():
    found = problems({"genome": {"name": "g", "url": "https://example.org/g.fa.gz", "md5": "xyz"}})
    assert found == ["genome.md5: 'xyz' does not match '^[0-9a-fA-F]{32}$'"]


def test_simulated_source_needs_simulation(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGT\n")
    found = problems({"genome": {"name": "g", "path": str(fasta), "blacklist": {"simulated": "blacklist.bed.gz"}}})
    assert found == ["genome.blacklist.simulated: only possible with genome.simulate"]
    config = load("config/config.yaml")
    config["genome"]["blacklist"] = {"simulated": "nothing.bed"}
    assert problems(config)[0].startswith("genome.blacklist.simulated: 'nothing.bed' is not written")


def test_invalid_regex_and_duplicate_tfs():
    config = load("config/config.yaml")
    config["genome"]["chromosomes"]["exclude_regex"] = "(chrUn"
    config["genome"]["simulate"]["tfs"].append(copy.deepcopy(config["genome"]["simulate"]["tfs"][0]))
    found = problems(config)
    assert "genome.simulate.tfs: duplicate factor names: CTCF" in found
    assert any(p.startswith("genome.chromosomes.exclude_regex: not a valid regular expression") for p in found)


def test_source_file_resolution():
    assert source_file({"path": "a/b.fa"}, "hg38", "genome.fa.gz") == "a/b.fa"
    assert source_file({"url": "https://x/y"}, "hg38", "genome.fa.gz") == "resources/download/hg38/genome.fa.gz"
    assert source_file({"simulated": "genes.gtf.gz"}, "demo", "x") == "resources/simulated/demo/genes.gtf.gz"
    assert source_file({"simulate": {}}, "demo", "x") == "resources/simulated/demo/genome.fa.gz"


def test_snakemake_reports_config_error_at_start(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("genome:\n  name: g\n  simulate: {seed: 1.5}\n  colour: blue\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(bad)],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "unknown key 'genome.colour'" in result.stderr + result.stdout
    assert "genome.simulate.seed: expected integer, got 1.5" in result.stderr + result.stdout


def with_tasks(tasks: dict, splits: dict | None = None) -> dict:
    config = load("config/config.yaml")
    config["tasks"] = tasks
    if splits is not None:
        config["splits"] = splits
    return config


def test_task_settings_get_schema_defaults():
    config = with_tasks({"t": {"type": "peaks", "peaks": {"simulated": "peaks/CTCF.narrowPeak.gz"}},
                         "s": {"type": "splice", "annotation": {"simulated": "genes.gtf.gz"}}})
    validate_config(config, SCHEMA)
    assert config["tasks"]["t"]["window"] == 101 and config["tasks"]["t"]["max_n_fraction"] == 0
    assert config["tasks"]["t"]["negatives"] == {"shuffle": {"ratio": 1}}
    assert config["tasks"]["s"]["nonsplice"] == {"ratio": 0.5, "decoy_fraction": 0.5, "min_distance": 50}
    minimal = {"genome": {"name": "g", "simulate": {}}}
    validate_config(minimal, SCHEMA)
    assert minimal["splits"] == {"dev": ["chr8"], "test": ["chr9"], "seed": 1} and minimal["tasks"] == {}


def test_task_problems_are_named(tmp_path):
    fasta = tmp_path / "pos.fa"
    fasta.write_text(">a\nACGT\n")
    found = problems(with_tasks({
        "a": {"type": "peaks", "peaks": {"encode": "ENCFF407IVS"}},
        "b": {"type": "peaks", "peaks": {"simulated": "peaks/NRF1.narrowPeak.gz"}},
        "c": {"type": "table", "files": [{"path": str(fasta)}, {"path": str(fasta), "format": "csv", "label": 1}],
              "random_split": {"dev": 0.5, "test": 0.5}},
        "d": {"type": "promoters", "annotation": {"path": "/nonexistent.gtf"}, "tata_region": [-10, -40],
              "negatives": {"substitution": {"pieces": 10, "replaced": 12}}},
        "e": {"type": "splice", "annotation": {"url": "https://example.org/a.gtf.gz"}},
    }, splits={"dev": ["chr3", "chr5"], "test": ["chr3"]}))
    assert found == [
        "splits: chromosomes in both dev and test: chr3",
        "splits.dev: not chromosomes of the genome: chr5 (genome: chr1, chr2, chr3, chr4)",
        "tasks.a.peaks.encode: downloads must be checksummed: add md5: or sha256: "
        "(or, if no published checksum exists, unverified: true)",
        "tasks.b.peaks.simulated: no simulated factor 'NRF1' (have: CTCF, REST)",
        "tasks.c.files.0: a FASTA file needs label: (all its sequences get it)",
        "tasks.c.files.1.label: only for FASTA files (csv files have a label column)",
        "tasks.c.random_split: dev + test must leave room for train, got 0.5 + 0.5",
        "tasks.d.annotation.path: file not found: /nonexistent.gtf",
        "tasks.d.tata_region: the first position must be before the second, got [-10, -40]",
        "tasks.d.negatives.substitution: replaced (12) exceeds pieces (10)",
        "tasks.e.annotation.url: downloads must be checksummed: add md5: or sha256: "
        "(or, if no published checksum exists, unverified: true)",
    ]


def test_task_schema_errors_name_the_key():
    found = problems(with_tasks({"a": {"type": "peaks", "peaks": {"simulated": "peaks/CTCF.narrowPeak.gz"},
                                       "windw": 5},
                                 "b": {"type": "enhancers"},
                                 "c": {"type": "peaks", "peaks": {"encode": "ENC123"}}}))
    assert "unknown key 'tasks.a.windw'; allowed here: format, max_n_fraction, min_qvalue, negatives, peaks, top, " \
           "type, window" in found
    assert any(p.startswith("tasks.b.type: 'enhancers' is not one of") for p in found)
    assert any(p.startswith("tasks.c.peaks.encode: 'ENC123' does not match") for p in found)


def test_task_sources_and_downloads():
    from dnabert.config.validation import resolve_download, task_download_name, task_source_file, task_sources

    config = with_tasks({"nrf1": {"type": "peaks", "peaks": {"encode": "ENCFF407IVS", "md5": "0" * 32}},
                         "tab": {"type": "table", "files": [{"url": "https://x.org/d/a b.csv", "sha256": "1" * 64}]}})
    assert set(task_sources(config)) == {("nrf1", "peaks"), ("tab", "table_0")}
    spec = config["tasks"]["nrf1"]["peaks"]
    assert resolve_download(spec) == {
        "url": "https://www.encodeproject.org/files/ENCFF407IVS/@@download/ENCFF407IVS.bed.gz", "md5": "0" * 32}
    assert task_download_name("nrf1", "peaks", spec) == "task.nrf1.peaks.ENCFF407IVS.bed.gz"
    assert task_source_file(config, "nrf1", "peaks") == "resources/download/demo/task.nrf1.peaks.ENCFF407IVS.bed.gz"
    assert task_source_file(config, "tab", "table_0") == "resources/download/demo/task.tab.table_0.a_b.csv"
    assert source_file({"encode": "ENCFF407IVS"}, "hg38", "x.bed.gz") == "resources/download/hg38/x.bed.gz"
