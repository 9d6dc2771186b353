"""Data stage: genomes, intervals, peaks, annotation, negatives, splits, tables, datasets, simulation."""
