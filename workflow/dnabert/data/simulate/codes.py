"""The simulation's numeric base alphabet: ``A=0, C=1, G=2, T=3, N=4`` as ``uint8`` codes.

Every stage of the simulation works on these codes, not on letters. This is a
different alphabet from :mod:`dnabert.sequence`, whose arrays hold ASCII bytes
(``b"ACGTN"``, either case); :func:`reverse_complement` here is the one for codes.
"""

from __future__ import annotations

import numpy as np

A, C, G, T, N = 0, 1, 2, 3, 4
UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)  # code -> upper-case letter byte
LOWER = np.frombuffer(b"acgtn", dtype=np.uint8)  # code -> lower-case (soft-masked) letter byte
COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)  # code -> code of the complementary base
ENCODE = np.full(256, N, dtype=np.uint8)  # letter byte (either case) -> code; anything else N
for _code, _letter in enumerate("ACGT"):
    ENCODE[ord(_letter)] = ENCODE[ord(_letter.lower())] = _code


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of base codes (N stays N)."""
    return COMPLEMENT[codes[::-1]]


def encode(text: str | bytes) -> np.ndarray:
    """ACGT text (any case) to base codes; other letters become N."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    return ENCODE[np.frombuffer(raw, dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """Base codes to upper-case text."""
    return UPPER[codes].tobytes().decode("ascii")


def letters(codes: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """Letter bytes of base codes, lower case (soft-masked) where ``masked``."""
    return np.where(masked, LOWER[codes], UPPER[codes])
