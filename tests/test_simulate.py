"""Tests for the simulated demo genome (dnabert.data.simulate)."""

from __future__ import annotations

import csv
import gzip
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pysam
import pytest
from pyjaspar import jaspardb

from dnabert.io import InputError
from dnabert.data.simulate.generate import simulate
from dnabert.data.simulate.settings import SimulationSettings, TFSpec

SMALL = SimulationSettings(
    seed=7,
    chromosomes={"chrA": 300_000, "chrB": 300_000},
    genes=10,
    tfs=(TFSpec("CTCF", "MA0139.2", 100, 0.8), TFSpec("REST", "MA0138.3", 100, 0.7)),
    blacklist_regions=2,
)
COMPLEMENT = str.maketrans("ACGTacgtN", "TGCAtgcaN")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def read_tsv(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return [line.rstrip("\n").split("\t") for line in handle if line.strip()]


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(SMALL, out)
    return out


@pytest.fixture(scope="module")
def genome(sim_dir: Path) -> dict[str, str]:
    with pysam.FastxFile(str(sim_dir / "genome.fa.gz")) as fasta:
        return {rec.name: rec.sequence for rec in fasta}


@pytest.fixture(scope="module")
def truth(sim_dir: Path) -> list[dict[str, str]]:
    with open(sim_dir / "truth.tsv") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def peaks(sim_dir: Path) -> dict[str, list[list[str]]]:
    return {tf.name: read_tsv(sim_dir / "peaks" / f"{tf.name}.narrowPeak.gz") for tf in SMALL.tfs}


def log_odds(motif_id: str) -> np.ndarray:
    """(length, 4) log2-odds matrix in ACGT order, pseudocount 0.5 per base, uniform background."""
    motif = jaspardb(release=SMALL.jaspar_release).fetch_motif_by_id(motif_id)
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=float).T + 0.5
    return np.log2(counts / counts.sum(axis=1, keepdims=True) / 0.25)


def score(matrix: np.ndarray, seq: str) -> float:
    idx = ["ACGT".index(b) for b in seq.upper()]
    return float(matrix[np.arange(len(idx)), idx].sum())


def test_outputs_and_fasta_format(sim_dir: Path, genome: dict[str, str]) -> None:
    for name in ("genome.fa.gz", "genes.gtf.gz", "blacklist.bed.gz", "truth.tsv"):
        assert (sim_dir / name).stat().st_size > 0
    assert list(genome) == list(SMALL.chromosomes)
    assert {k: len(v) for k, v in genome.items()} == SMALL.chromosomes
    raw = (sim_dir / "genome.fa.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and not raw[3] & 0x04, "plain gzip expected, not BGZF"
    lines = gzip.decompress(raw).decode().splitlines()
    seq_lines = [line for line in lines if not line.startswith(">")]
    assert max(map(len, seq_lines)) == 70
    assert all(re.fullmatch(r"[ACGTNacgt]+", line) for line in seq_lines)


def test_composition(genome: dict[str, str]) -> None:
    gc = cg = n_c = n_g = real = lower = 0
    for seq in genome.values():
        up = seq.upper()
        n_c, n_g = n_c + up.count("C"), n_g + up.count("G")
        real += len(up) - up.count("N")
        cg += up.count("CG")
        lower += sum(1 for ch in seq if ch.islower())
    gc = (n_c + n_g) / real
    cpg = cg * real / (n_c * n_g)
    assert abs(gc - SMALL.gc) <= 0.02
    assert abs(cpg - SMALL.cpg_ratio) <= 0.07
    assert abs(lower / real - SMALL.repeat_fraction) <= 0.05


def test_n_gaps(genome: dict[str, str]) -> None:
    for seq in genome.values():
        assert seq[0] == "N" and seq[-1] == "N"
        runs = re.findall("N+", seq)
        assert len(runs) == SMALL.n_gaps + 2


def test_truth_matches_genome(genome: dict[str, str], truth: list[dict[str, str]]) -> None:
    assert {row["feature"] for row in truth} == {"tf_motif", "tata_box", "donor", "acceptor"}
    for row in truth:
        start, end = int(row["start"]), int(row["end"])
        planted = genome[row["chrom"]][start:end]
        assert planted == row["sequence"], row
        assert planted.isupper() and "N" not in planted
    counts = defaultdict(int)
    for row in truth:
        if row["feature"] == "tf_motif":
            counts[row["motif_name"]] += 1
    for tf in SMALL.tfs:
        assert counts[tf.name] == round(tf.peaks * tf.motif_fraction)


def test_tf_motifs_score_high(genome: dict[str, str], truth: list[dict[str, str]]) -> None:
    rng = np.random.default_rng(0)
    for tf in SMALL.tfs:
        matrix = log_odds(tf.motif)
        width = matrix.shape[0]
        rows = [r for r in truth if r["feature"] == "tf_motif" and r["motif_id"] == tf.motif]
        planted = [
            score(matrix, r["sequence"] if r["strand"] == "+" else revcomp(r["sequence"])) for r in rows
        ]
        background = []
        for chrom in genome:
            seq = genome[chrom]
            for pos in rng.integers(0, len(seq) - width, size=1000):
                site = seq[pos : pos + width]
                if "N" not in site:
                    background.append(score(matrix, site))
        assert np.median(planted) > np.quantile(background, 0.99)


def test_motifs_at_summits(peaks: dict[str, list[list[str]]], truth: list[dict[str, str]]) -> None:
    for row in truth:
        if row["feature"] != "tf_motif":
            continue
        tf, index = row["name"].rsplit("_peak_", 1)
        chrom, start, end, *_, summit = peaks[tf][int(index)]
        assert chrom == row["chrom"]
        centre = (int(row["start"]) + int(row["end"])) / 2
        assert abs(centre - (int(start) + int(summit))) <= 4
        assert int(start) <= int(row["start"]) and int(row["end"]) <= int(end)


def test_narrowpeak_format(
    peaks: dict[str, list[list[str]]], genome: dict[str, str], truth: list[dict[str, str]]
) -> None:
    order = list(SMALL.chromosomes)
    intervals = []
    for tf in SMALL.tfs:
        rows = peaks[tf.name]
        assert len(rows) == tf.peaks
        keys = []
        for chrom, start, end, name, score_, strand, signal, p, q, summit in rows:
            s, e = int(start), int(end)
            assert chrom in genome and 0 <= s < e <= len(genome[chrom]) and 100 <= e - s <= 1000
            assert name == "." and strand == "."
            assert 0 <= int(score_) <= 1000
            assert float(signal) > 0 and float(p) >= 0 and float(q) >= 0
            assert 0 <= int(summit) < e - s
            assert "N" not in genome[chrom][s:e]
            keys.append((order.index(chrom), s))
            intervals.append((chrom, s, e))
        assert keys == sorted(keys)
        with_motif = {
            int(r["name"].rsplit("_", 1)[1]) for r in truth if r["name"].startswith(f"{tf.name}_peak_")
        }
        signal = np.array([float(r[6]) for r in rows])
        has = np.isin(np.arange(len(rows)), sorted(with_motif))
        assert signal[has].mean() > signal[~has].mean()
    intervals.sort()
    for (c1, _, e1), (c2, s2, _) in zip(intervals, intervals[1:]):
        assert c1 != c2 or e1 <= s2, "peaks overlap"


def parse_gtf(path: Path) -> list[list[str]]:
    rows = read_tsv(path)
    assert all(len(r) == 9 for r in rows)
    return rows


def attr(field: str, key: str) -> str:
    return re.search(rf'{key} "([^"]+)"', field).group(1)


def test_gtf_and_splice_sites(sim_dir: Path, genome: dict[str, str], truth: list[dict[str, str]]) -> None:
    rows = parse_gtf(sim_dir / "genes.gtf.gz")
    order = list(SMALL.chromosomes)
    keys = [(order.index(r[0]), int(r[3])) for r in rows]
    assert keys == sorted(keys)
    assert {r[2] for r in rows} == {"gene", "transcript", "exon"}
    assert sum(r[2] == "gene" for r in rows) == SMALL.genes
    exons = defaultdict(list)
    for chrom, _, feature, start, end, _, strand, _, attrs in rows:
        for key in ("gene_id", "gene_name", "gene_biotype"):
            attr(attrs, key)
        if feature == "exon":
            exons[attr(attrs, "transcript_id")].append((chrom, int(start) - 1, int(end), strand))
            attr(attrs, "exon_number")
    assert {strand for tx in exons.values() for *_, strand in tx} == {"+", "-"}
    assert len(exons) > SMALL.genes, "expected some genes with two transcripts"
    for tid, tx in exons.items():
        tx.sort(key=lambda e: e[1])
        assert len(tx) >= 2
        assert all(50 <= end - start <= 300 for _, start, end, _ in tx)
        for (chrom, _, left_end, strand), (_, right_start, _, _) in zip(tx, tx[1:]):
            seq = genome[chrom]
            intron_head, intron_tail = (
                seq[left_end : left_end + 2].upper(),
                seq[right_start - 2 : right_start].upper(),
            )
            if tid.endswith(".1"):  # the full transcript; .2 skips an exon
                assert 200 <= right_start - left_end <= 3000
            if strand == "+":
                assert (intron_head, intron_tail) == ("GT", "AG")
            else:
                assert (revcomp(intron_tail), revcomp(intron_head)) == ("GT", "AG")
    # every TATA box sits 17-35 bp upstream of its transcript's TSS, on its strand
    tss = {}
    for chrom, _, feature, start, end, _, strand, _, attrs in rows:
        if feature == "transcript":
            tss[attr(attrs, "transcript_id")] = (int(start) - 1) if strand == "+" else int(end) - 1
    tata = [r for r in truth if r["feature"] == "tata_box"]
    assert len(tata) == round(SMALL.tata_fraction * SMALL.genes)
    for r in tata:
        s, e, t = int(r["start"]), int(r["end"]), tss[r["name"]]
        upstream = (t - s) if r["strand"] == "+" else (e - 1 - t)
        assert 25 <= upstream <= 35
        site = r["sequence"] if r["strand"] == "+" else revcomp(r["sequence"])
        assert "TA" in site[1:8]


def test_blacklist(sim_dir: Path, genome: dict[str, str]) -> None:
    rows = read_tsv(sim_dir / "blacklist.bed.gz")
    assert len(rows) == SMALL.blacklist_regions
    order = list(SMALL.chromosomes)
    assert [(order.index(c), int(s)) for c, s, _ in rows] == sorted(
        (order.index(c), int(s)) for c, s, _ in rows
    )
    for chrom, start, end in rows:
        region = genome[chrom][int(start) : int(end)]
        assert 1000 <= len(region) and region.islower()


def test_reproducible(tmp_path: Path, sim_dir: Path) -> None:
    simulate(SMALL, tmp_path)
    files = sorted(p.relative_to(sim_dir) for p in sim_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in files:
        assert (sim_dir / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_from_config_defaults_and_overrides() -> None:
    assert SimulationSettings.from_config({}) == SimulationSettings()
    assert SimulationSettings.from_config(None) == SimulationSettings()
    settings = SimulationSettings.from_config(
        {
            "seed": 3,
            "chromosomes": {"c1": 100_000},
            "tfs": [{"name": "CTCF", "motif": "MA0139.2", "peaks": 10}],
        }
    )
    assert settings.seed == 3 and settings.chromosomes == {"c1": 100_000}
    assert settings.tfs == (TFSpec("CTCF", "MA0139.2", 10, 0.8),)
    assert settings.gc == 0.41 and settings.genes == 80 and settings.jaspar_release == "JASPAR2024"


def test_from_config_rejects_unknown_motif() -> None:
    with pytest.raises(InputError, match=r"tfs\[0\]\.motif.*MA9999\.1.*does not exist in JASPAR2024") as err:
        SimulationSettings.from_config(
            {"tfs": [{"name": "X", "motif": "MA9999.1"}]}, source="config/config.yaml"
        )
    assert str(err.value).startswith("config/config.yaml")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"gcc": 0.4}, "unknown key"),
        ({"gc": 1.5}, "gc"),
        ({"chromosomes": {"c1": 10}}, "c1"),
        ({"tfs": [{"name": "bad name", "motif": "MA0139.2"}]}, "tfs"),
        ({"tfs": [{"name": "A", "motif": "MA0139.2"}, {"name": "A", "motif": "MA0138.3"}]}, "unique"),
        ({"jaspar_release": "JASPAR1999"}, "unknown JASPAR release"),
    ],
)
def test_from_config_rejects_bad_values(cfg: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        SimulationSettings.from_config(cfg)


def test_peaks_avoid_other_features(
    sim_dir: Path, peaks: dict[str, list[list[str]]], truth: list[dict[str, str]]
) -> None:
    taken = defaultdict(list)  # exons, splice sites, TATA boxes and blacklist regions
    for chrom, _, feature, start, end, *_ in parse_gtf(sim_dir / "genes.gtf.gz"):
        if feature == "exon":
            taken[chrom].append((int(start) - 1, int(end)))
    for r in truth:
        if r["feature"] != "tf_motif":
            taken[r["chrom"]].append((int(r["start"]), int(r["end"])))
    for chrom, start, end in read_tsv(sim_dir / "blacklist.bed.gz"):
        taken[chrom].append((int(start), int(end)))
    for rows in peaks.values():
        for chrom, start, end, *_ in rows:
            assert not any(s < int(end) and int(start) < e for s, e in taken[chrom])


def test_gap_layout_fits_long_chromosomes():
    """Internal N gaps are sized for chromosomes far longer than the demo's (over 10 Mb used to fail)."""
    import numpy as np

    from dnabert.data.simulate.layout import layout_gaps
    from dnabert.data.simulate.settings import SimulationSettings

    settings = SimulationSettings(chromosomes={"chrBig": 30_000_000}, n_gaps=3)
    genome = layout_gaps(settings, np.random.default_rng(0))
    assert 50_000 < genome.gap.sum() < 30_000_000 * 0.01
