"""The report's own pages and figures (rendered with :mod:`dnabert.html`).

* :mod:`dnabert.report.provenance`: the overview page: configuration, inputs with checksums,
  ENCODE accessions, JASPAR release, package versions, git commit.
* :mod:`dnabert.report.stages`: the pages of a task dataset, pretraining and the test metrics.
* :mod:`dnabert.report.figures`: ROC/precision-recall curves and confusion matrices per task.
* :mod:`dnabert.report.cost`: run time and memory per rule from the ``benchmark:`` files.
* :mod:`dnabert.report.benchmarks`: the benchmark table and plot of every task and model.
"""
