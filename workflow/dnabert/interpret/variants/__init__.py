"""Variant effects: in-silico mutagenesis and SNP scoring with a fine-tuned classifier, and zero-shot scores.

DNABERT's SNP analysis (Ji et al. 2021, Fig. 5) scores how a base change moves the
classifier's probability of a class (``target_class``, by default 1: the positive
class). Every score compares a mutant with its reference sequence:

``delta_prob``      ``p_alt - p_ref`` of the target class;
``log_odds_ratio``  ``log(p_alt / (1 - p_alt)) - log(p_ref / (1 - p_ref))`` (natural log;
                    probabilities clipped to ``[1e-6, 1 - 1e-6]`` so it stays finite).

Three inputs, one module each:

* :mod:`~dnabert.interpret.variants.mutagenesis` -- in-silico saturation mutagenesis
  (``ism``) of one sequence: the reference and every position x the 3 other bases
  (4 where the reference base is not A/C/G/T), built as one mutant matrix and scored
  in one batched pass; ``ism_records`` does several sequences, and
  :mod:`~dnabert.interpret.variants.heatmap` draws a heatmap panel per sequence.
* :mod:`~dnabert.interpret.variants.vcf` -- the SNVs of a VCF (plain or gzipped;
  multi-allelic ALT split into one row per allele), each scored in the task's window
  (:mod:`~dnabert.interpret.variants.windows`: its width, and for promoter and splice
  tasks the TSS- or splice-site-relative position and strand), fetched from an
  indexed genome FASTA. REF is checked against the genome. Rows that are not scored
  keep their place with a status: ``not_snv``, ``ref_mismatch``, ``out_of_bounds`` (the window runs past the
  chromosome) or ``unknown_chrom``; with ``on_mismatch="error"`` the last three raise
  :class:`~dnabert.io.InputError` naming the VCF line and field instead.
* :mod:`~dnabert.interpret.variants.mutations` -- DNABERT's own mutation file
  (``idx start end replacement``; 0-based half-open, empty replacement = deletion)
  applied to the sequences of a dataset table.
* :mod:`~dnabert.interpret.variants.zeroshot` -- no classifier: the pretrained masked LM's
  log-likelihood ratio of ALT against REF with the k-mers over the site masked.

Shared by the classifier scores: :mod:`~dnabert.interpret.variants.scores` (target-class
probabilities and effect columns) and :mod:`~dnabert.interpret.variants.tables`
(sequence tables in, score tables out).

Command line: ``dnabert ism``, ``dnabert vcf``, ``dnabert zeroshot``, ``dnabert mutations``
(:mod:`dnabert.cli`).
"""
