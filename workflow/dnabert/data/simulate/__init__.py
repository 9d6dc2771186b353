"""Seeded simulation of the offline demo genome, with real formats and ground truth.

The demo genome stands in for a downloaded assembly, so every downstream rule
treats its files exactly like real ones. The same settings always give
byte-identical files.

Sequence model (all per-base work is vectorised with numpy):

1. **Layout.** Each chromosome gets runs of ``N`` at both ends (like telomeres)
   and ``n_gaps`` internal ``N`` gaps. ``blacklist_regions`` satellite arrays,
   the genes (promoter + gene body) and the ChIP-seq peaks are then placed so
   that none overlaps an ``N`` gap or another planted feature: peaks may fall in
   introns but never over an exon, a splice site or a promoter.
2. **Repeats.** A handful of random "repeat family" consensus sequences
   (SINE-like ~300 bp, LINE-like 6 kb copied 5'-truncated, LTR/DNA-like
   0.5-1.5 kb) and simple repeats such as ``(CA)n`` are copied, on either
   strand, into random places with 10-15 % substitutions (2-6 % for simple
   repeats), until ``repeat_fraction`` of the non-N bases is covered (the
   blacklist regions, tandem arrays of a 171 bp alpha-satellite-like monomer,
   count towards it). All repeats are soft-masked (lower case); exons,
   promoters and peak cores are kept repeat-free.
3. **Background.** The remaining bases are drawn independently, with GC varying
   in isochore-like blocks of 50-150 kb (s.d. 0.03, length-weighted mean on
   target) and promoters (-500..+100 around the TSS) 10 points GC-richer. The
   target is a *starting* GC ``g0`` chosen so that the later CpG decay lands on
   ``gc``: converting a fraction ``f`` of CpGs removes ``f*g0**2/4`` GC per base
   and leaves an observed/expected CpG ratio ``(1-f)*g0**2/gc**2``, hence
   ``g0 = 2 - sqrt(4 - 4*gc + cpg_ratio*gc**2)`` and ``f = 4*(g0-gc)/g0**2``.
   The background is shifted so that the whole genome, repeats and GC-rich
   promoters included, starts at ``g0``.
4. **Planted features** (upper case, recorded in ``truth.tsv``): splice
   consensus at every exon boundary (donor ``AG|GTRAGT``; acceptor 12
   pyrimidines, ``N``, ``YAG|G``) on the transcript's strand; for
   ``tata_fraction`` of genes a TATA box sampled from JASPAR TBP (MA0108.2),
   the 15 bp matrix starting 30-34 bp upstream of the TSS (so TATAAA lies at
   about -33..-24); and in ``motif_fraction`` of each factor's peaks one site
   sampled from its JASPAR matrix, on a random strand, centred within 3 bp of
   the summit. Motif peaks get higher signal on average.
5. **CpG deamination**, as in real genomes: CpGs outside planted features are
   turned into TpG or CpA (half each) at random, as many as needed for the
   observed/expected CpG ratio of the whole genome to equal ``cpg_ratio``.

Outputs (see :func:`dnabert.data.simulate.generate.simulate`): ``genome.fa.gz`` (plain gzip, 70 columns),
``genes.gtf.gz``, ``peaks/{TF}.narrowPeak.gz``, ``blacklist.bed.gz`` and
``truth.tsv``.

Modules, in the order a run uses them: :mod:`~dnabert.data.simulate.settings`
(the settings, checked with :mod:`~dnabert.data.simulate.checks`),
:mod:`~dnabert.data.simulate.motifs` (JASPAR matrices),
:mod:`~dnabert.data.simulate.codes` (the numeric base alphabet),
:mod:`~dnabert.data.simulate.model` (coordinates and placed features),
:mod:`~dnabert.data.simulate.layout` (step 1), :mod:`~dnabert.data.simulate.repeats`
(step 2), :mod:`~dnabert.data.simulate.composition` (steps 3 and 5, and measuring
composition), :mod:`~dnabert.data.simulate.features` (step 4 and peak scores),
:mod:`~dnabert.data.simulate.writers` (the files) and
:mod:`~dnabert.data.simulate.generate` (:func:`~dnabert.data.simulate.generate.simulate`,
which runs them all).
"""
