"""Repeated sequences in a task dataset: counted within and across splits, and removed by a chosen policy.

A copy is either *exact* (the same sequence, case ignored) or a *reverse complement*
(the same sequence read from the other strand). :func:`count_duplicates` counts both,
within each split, between each pair of splits, and where one sequence carries two
labels (a label conflict). :func:`dedup_mask` says which rows a policy keeps:

* ``none``: every row.
* ``within_train``: one row per sequence (or reverse complement) within train.
* ``train_vs_heldout``: as ``within_train``, and no train row whose sequence (or
  reverse complement) is in dev or test. Dev and test keep every row: a benchmark's
  own test set stays intact, so results compare with published ones.
* ``all``: one row per sequence in each split and in one split only, the copy in the
  later split of train < dev < test kept (the chromosome-split tasks' behaviour).

``auto`` (the default) is ``train_vs_heldout`` for tasks that bring their own splits
and ``all`` for the others (:func:`resolve_policy`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dnabert.data.splits import SPLITS, canonical, leakage_mask

log = logging.getLogger(__name__)

POLICIES = ("none", "within_train", "train_vs_heldout", "all")
PAIRS = (("train", "dev"), ("train", "test"), ("dev", "test"))


def resolve_policy(policy: str, given_splits: bool) -> str:
    """``auto`` becomes ``train_vs_heldout`` where the task brings its own splits, else ``all``."""
    if policy == "auto":
        return "train_vs_heldout" if given_splits else "all"
    if policy not in POLICIES:
        raise ValueError(f"dedup must be auto or one of {', '.join(POLICIES)}, got {policy!r}")
    return policy


def _frame(sequences: Sequence[str], labels: Sequence[int], splits: Sequence[str]) -> pd.DataFrame:
    exact = [s.upper() for s in sequences]
    return pd.DataFrame({"exact": exact, "key": canonical(exact), "label": np.asarray(labels, dtype=np.int64),
                         "split": np.asarray(splits, dtype=object)})


def count_duplicates(sequences: Sequence[str], labels: Sequence[int], splits: Sequence[str]) -> dict[str, Any]:
    """Copies within each split, sequences shared by each pair of splits, and label conflicts.

    ``within.<split>``: ``exact`` rows that repeat an earlier row of the split, and
    ``reverse_complement`` rows that repeat one only as its reverse complement.
    ``across.<a>-<b>``: ``sequences`` (distinct, up to reverse complement) found in both
    splits, of which ``exact`` in the same orientation, and the ``rows`` of each split
    that hold them. ``label_conflicts``: sequences with two or more labels, within each
    split and over all rows (``any``).
    """
    frame = _frame(sequences, labels, splits)
    by_split = {name: frame[frame["split"] == name] for name in SPLITS}
    within = {}
    for name, part in by_split.items():
        n, exact, keys = len(part), part["exact"].nunique(), part["key"].nunique()
        within[name] = {"rows": n, "exact": n - exact, "reverse_complement": exact - keys}
    across = {}
    for a, b in PAIRS:
        shared = set(by_split[a]["key"]) & set(by_split[b]["key"])
        same_strand = set(by_split[a]["exact"]) & set(by_split[b]["exact"])
        exact_keys = set(canonical(same_strand)) & shared
        across[f"{a}-{b}"] = {
            "sequences": len(shared), "exact": len(exact_keys), "reverse_complement": len(shared - exact_keys),
            "rows": {a: int(by_split[a]["key"].isin(shared).sum()), b: int(by_split[b]["key"].isin(shared).sum())},
        }
    conflicts = {name: _conflicts(part) for name, part in by_split.items()}
    conflicts["any"] = _conflicts(frame)
    return {"within": within, "across": across, "label_conflicts": conflicts}


def _conflicts(part: pd.DataFrame) -> int:
    if part.empty:
        return 0
    return int((part.groupby("key")["label"].nunique() > 1).sum())


def dedup_mask(sequences: Sequence[str], splits: Sequence[str], policy: str) -> np.ndarray:
    """Rows that ``policy`` keeps (see the module docstring); the first copy within train is the one kept."""
    if policy == "all":
        return leakage_mask(sequences, splits)
    keep = np.ones(len(sequences), dtype=bool)
    if policy == "none" or not len(sequences):
        return keep
    frame = _frame(sequences, np.zeros(len(sequences)), splits)
    train = (frame["split"] == "train").to_numpy()
    if policy == "train_vs_heldout":
        held_out = set(frame.loc[~train, "key"])
        keep &= ~(train & frame["key"].isin(held_out).to_numpy())
    if policy in ("within_train", "train_vs_heldout"):
        repeated = np.zeros(len(frame), dtype=bool)
        rows = np.flatnonzero(train & keep)
        repeated[rows] = frame["key"].iloc[rows].duplicated().to_numpy()
        keep &= ~repeated
        return keep
    raise ValueError(f"unknown dedup policy {policy!r}; use one of {', '.join(POLICIES)}")


def deduplicate(frame: pd.DataFrame, policy: str, task: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply ``policy`` to a frame with ``sequence``, ``label`` and ``split`` columns; return it and the report.

    The report holds the counts of :func:`count_duplicates` before and after, the rows
    removed per split and the policy, for the dataset's QC.
    """
    sequences, splits = frame["sequence"].tolist(), frame["split"].tolist()
    before = count_duplicates(sequences, frame["label"].tolist(), splits)
    keep = dedup_mask(sequences, splits, policy)
    split_arr = np.asarray(splits, dtype=object)
    removed = {name: int((~keep & (split_arr == name)).sum()) for name in SPLITS}
    kept = frame[keep]
    after = count_duplicates(kept["sequence"].tolist(), kept["label"].tolist(), kept["split"].tolist())
    if any(removed.values()):
        log.info("%s: dedup %s removed %d rows (same sequence or reverse complement): %s", task, policy,
                 sum(removed.values()), ", ".join(f"{s} {n}" for s, n in removed.items() if n))
    left = {name: after["within"][name]["exact"] + after["within"][name]["reverse_complement"] for name in SPLITS}
    if any(left.values()):
        log.info("%s: kept repeated rows (dedup %s): %s", task, policy,
                 ", ".join(f"{s} {n}" for s, n in left.items() if n))
    conflicts = before["label_conflicts"]["any"]
    if conflicts:
        log.warning("%s: %d sequences (or reverse complements) carry two or more labels", task, conflicts)
    return kept, {"dedup": policy, "before": before, "removed": removed, "after": after}
