"""TF-MoDISco (modisco-lite) on hypothetical contributions, and the numba kernel cache (dnabert.interpret.modisco)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnabert.interpret.modisco import ModiscoSettings, run_modisco
from dnabert.interpret.motifs.jaspar import jaspar_motifs, recovery_table, tomtom_matches
from dnabert.interpret.motifs.meme import genomic_instances
from dnabert.interpret.numba_cache import cache_modisco_kernels
from dnabert.interpret.synthetic import synthetic_contributions
from dnabert.io import InputError


@pytest.fixture(scope="module")
def ctcf():
    return next(m for m in jaspar_motifs("JASPAR2024") if m.id.startswith("MA0139"))


@pytest.fixture(scope="module")
def planted(ctcf):
    sequences, hyp, starts = synthetic_contributions(ctcf.probs, 200, fraction=0.7, seed=3)
    return sequences, hyp, starts, run_modisco(sequences, list(hyp), ModiscoSettings(), seed=1)


def test_modisco_finds_the_planted_motif_and_tomtom_names_it(planted, ctcf):
    sequences, _, starts, result = planted
    assert result.motifs and result.motifs[0].id == "pos_1" and result.summary["metacluster"].iloc[0] == "pos"
    top = result.summary.iloc[0]
    assert top["seqlets"] >= 15 and top["width"] >= 8
    table = tomtom_matches(result.motifs, jaspar_motifs("JASPAR2024"), n_best=5, threads=1)
    assert recovery_table(table, {"CTCF": "MA0139.2"})["recovered"].iloc[0]
    best = table[(table["query"] == "pos_1") & (table["rank"] == 1)].iloc[0]
    assert best["target_name"].upper() == "CTCF"
    # instances lie on the planted sites, on either strand, with the motif's width
    inst = result.instances[result.instances["motif"] == "pos_1"]
    assert set(inst["strand"]) <= {"+", "-"} and ((inst["end"] - inst["start"]) == top["width"]).all()
    site = starts[inst["seq_index"].to_numpy()]
    assert ((inst["start"].to_numpy() >= site - 2) & (inst["end"].to_numpy() <= site + ctcf.width + 2)).mean() > 0.9
    assert all(sequences[i][a:b] == s for i, a, b, s in inst[["seq_index", "start", "end", "sequence"]].itertuples(index=False))


def test_modisco_is_deterministic(planted):
    sequences, hyp, _, result = planted
    again = run_modisco(sequences, list(hyp), ModiscoSettings(), seed=1)
    assert again.summary.equals(result.summary) and all(np.array_equal(a.probs, b.probs)
                                                        for a, b in zip(again.motifs, result.motifs))


def test_instances_on_the_minus_strand_of_a_sequence_flip_in_the_bed(planted):
    _, _, _, result = planted
    coords = pd.DataFrame({"chrom": ["chr1"] * result.n_pos, "start": np.arange(result.n_pos) * 1000})
    bed = genomic_instances(result, coords)
    minus = result.instances["strand"] == "-"
    assert (bed["strand"] == "-").sum() == int(minus.sum()) and ((bed["end"] - bed["start"]) > 0).all()


def test_nothing_to_find_gives_an_empty_result_and_bad_input_is_named():
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(40)]
    noise = rng.normal(0, 0.01, size=(40, 60, 4)).astype(np.float32)
    result = run_modisco(sequences, list(noise))
    assert result.motifs == [] and result.summary.empty and result.instances.empty
    assert run_modisco([], []).motifs == []
    with pytest.raises(InputError, match="hypothetical"):
        run_modisco(sequences, list(noise[:, :50]))
    with pytest.raises(InputError, match="interpret.modisco.n_leiden_runs"):
        ModiscoSettings(n_leiden_runs=0)
    with pytest.raises(InputError, match="unknown key"):
        ModiscoSettings.from_config({"window": 3})


def test_modisco_kernels_are_cached_on_disk():
    assert cache_modisco_kernels() >= 10  # every numba kernel of modisco-lite gets numba's on-disk cache
