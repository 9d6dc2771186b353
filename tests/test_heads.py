"""Choosing the layer and heads of DNABERT's attention on dev sequences (dnabert.interpret.heads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnabert.interpret.heads import HeadSettings, peakedness, select_heads, write_selection
from dnabert.io import InputError


def test_peakedness_is_the_share_in_the_best_window():
    flat = np.ones(20)
    peaked = np.ones(20)
    peaked[5:9] = 10.0
    assert peakedness(flat, 4) == pytest.approx(4 / 20)
    assert peakedness(peaked, 4) == pytest.approx(40 / 56)
    both = peakedness(np.stack([flat, peaked], axis=1), 4)  # trailing dimensions kept
    assert both.shape == (2,) and both[1] > both[0]
    assert peakedness(np.ones(3), 8) == pytest.approx(1.0)  # a window longer than the sequence covers it all


def rows(n: int = 60, kmers: int = 40, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """[CLS] rows of a 3-layer x 4-head model: layer 1 heads 0 and 2 peak on a site in positives only."""
    rng = np.random.default_rng(seed)
    labels = np.array([1, 0] * (n // 2))
    out = []
    for label in labels:
        a = rng.gamma(2.0, 1.0, size=(kmers, 3, 4))
        if label:
            site = rng.integers(0, kmers - 6)
            a[site : site + 6, 1, [0, 2]] += 8.0
            a[site : site + 6, 2, 3] += 0.8  # a weak head elsewhere
        a[:, 0, 1] += np.where(label, 0.0, 20.0) * (np.arange(kmers) == 3)  # peaks on negatives: AUROC < 0.5
        out.append(a / a.sum(axis=0, keepdims=True))
    return out, labels


def test_auto_picks_the_separating_layer_and_heads():
    data, labels = rows()
    selection = select_heads(data, labels, HeadSettings())
    assert selection.layer == 1 and set(selection.heads) <= {0, 2} and selection.auroc > 0.95
    table = selection.table
    assert len(table) == 3 * (4 + 1)  # every layer x head, and each layer's chosen heads summed
    chosen = "sum:" + ",".join(map(str, selection.heads))
    assert table.loc[table["selected"], ["layer", "head"]].values.tolist() == [[1, chosen]]
    assert table.set_index(["layer", "head"]).loc[(0, "1"), "auroc"] < 0.5


def test_heads_are_summed_when_the_sum_separates_better():
    """Two weak heads with independent noise: their sum beats either alone, and auto keeps both."""
    rng = np.random.default_rng(2)
    labels = np.array([1, 0] * 100)
    data = []
    for label in labels:
        a = rng.gamma(2.0, 1.0, size=(40, 1, 3))
        if label:
            site = rng.integers(0, 34)
            a[site : site + 6, 0, :2] += 1.5
        data.append(a)
    selection = select_heads(data, labels, HeadSettings(min_usable=0.0))
    singles = selection.table[selection.table["head"].isin(["0", "1"])]["auroc"]
    assert selection.heads == (0, 1) and selection.auroc > singles.max()


def test_heads_too_flat_for_the_region_rule_are_passed_over():
    """Layer 1's head separates best but never reaches 10x its minimum; layer 0's head does: layer 0 is used."""
    rng = np.random.default_rng(3)
    labels = np.array([1, 0] * 60)
    data = []
    for label in labels:
        a = np.empty((40, 2, 1))
        a[:, 0, 0] = rng.gamma(2.0, 1.0, size=40) + 0.01
        a[:, 1, 0] = 1.0 + rng.random(40) * 0.2
        if label:
            site = rng.integers(0, 34)
            a[site : site + 6, 0, 0] += 1.0
            a[site : site + 6, 1, 0] += 1.0  # a perfect separator, but at most 2x its minimum
        data.append(a)
    flat_but_perfect = select_heads(data, labels, HeadSettings(min_usable=0.0))
    assert flat_but_perfect.layer == 1 and flat_but_perfect.auroc > 0.95
    selection = select_heads(data, labels, HeadSettings())
    assert selection.layer == 0 and selection.heads == (0,)


def test_fixed_layer_and_heads_are_kept_and_scored():
    data, labels = rows()
    dnabert = select_heads(data, labels, HeadSettings(layer=-1, heads="all"))
    assert (dnabert.layer, dnabert.heads) == (2, (0, 1, 2, 3))
    chosen = select_heads(data, labels, HeadSettings(layer="auto", heads=(3,)))
    assert chosen.heads == (3,) and chosen.layer == 2  # head 3 separates only in the last layer
    auto_heads = select_heads(data, labels, HeadSettings(layer=0, heads="auto"))
    assert auto_heads.layer == 0 and len(auto_heads.heads) == 1  # none passes: the layer's best head alone


def test_selection_is_written_and_bad_settings_are_named(tmp_path):
    data, labels = rows()
    selection = select_heads(data, labels, HeadSettings())
    write_selection(selection, tmp_path / "selection.tsv")
    back = pd.read_csv(tmp_path / "selection.tsv", sep="\t")
    assert list(back.columns) == ["layer", "head", "auroc", "selected"] and back["selected"].sum() == 1
    with pytest.raises(InputError, match="interpret.attention.heads"):
        select_heads(data, labels, HeadSettings(heads=(9,)))
    with pytest.raises(InputError, match="interpret.attention.layer"):
        select_heads(data, labels, HeadSettings(layer=5))
    with pytest.raises(InputError, match="interpret.attention.heads"):
        HeadSettings(heads="some")
    with pytest.raises(InputError, match="no dev sequences"):
        select_heads([], np.zeros(0), HeadSettings())
