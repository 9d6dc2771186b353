"""Interpretation: attention, attributions, motif discovery and matching, variant effects."""
