"""Motifs from per-base attention: DNABERT's ``motif_analysis``, vectorised; MEME output; TOMTOM against JASPAR.

One module per concern (this package re-exports nothing; import from the modules):

* :mod:`dnabert.interpret.motifs.model`: the settings of a discovery, the motif and
  result types, and helpers for ``(4, width)`` probability matrices.
* :mod:`dnabert.interpret.motifs.discovery`: the algorithm, :func:`~dnabert.interpret.motifs.discovery.discover`
  (high-attention regions, enrichment, merging, windows).
* :mod:`dnabert.interpret.motifs.pattern_search`: which sequences contain which candidate,
  by exact 2-bit hashing of every window.
* :mod:`dnabert.interpret.motifs.pvalues`: the hypergeometric enrichment test and
  multiple-testing adjustment.
* :mod:`dnabert.interpret.motifs.meme`: MEME files, the summary and instances tables (TSV, BED).
* :mod:`dnabert.interpret.motifs.jaspar`: JASPAR profiles (pyjaspar), TOMTOM (memelite) and
  planted-motif recovery.
* :mod:`dnabert.interpret.motifs.logos`: information-content logos (logomaker).
"""
