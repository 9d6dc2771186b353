"""The report's own pages, provenance and benchmark tables."""
