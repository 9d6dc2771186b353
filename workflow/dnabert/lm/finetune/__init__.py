"""Fine-tuning a k-mer BERT classifier on one task dataset, with honest evaluation.

One run = one task and one seed (``python -m dnabert.lm.finetune``, or the Snakemake
rule ``finetune_seed``). The encoder comes from this workflow's pretrained model
directory (``init: pretrained``), a released DNABERT directory (``released``; both read
by :func:`dnabert.lm.models.load_pretrained`), or a fresh random initialisation
(``scratch``, the no-pretraining ablation). A ``BertForSequenceClassification`` head
(pooler + dropout + linear, seeded) goes on top; the number of classes is taken from the
labels (splice: 3). With ``lora`` the encoder stays frozen and low-rank adapters
(``peft``) are trained with the pooler and head.

Training follows DNABERT's fine-tuning recipe unless the config says otherwise:
AdamW (lr 2e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.01 except on biases and
LayerNorm), 5 epochs, batch 32, linear warm-up over the first 10 % of the steps
then linear decay to zero, hidden dropout 0.1, gradient clipping at 1.0.

* Batches: length-bucketed, dynamically padded, a pure function of (seed, epoch)
  (:mod:`~dnabert.lm.finetune.data`).
* Model selection: the dev split is evaluated every ``eval_every_steps`` steps
  (default: every epoch); the best value of ``select_on`` (dev loss by default)
  is kept, training stops after ``patience`` evaluations without improvement,
  and only that best checkpoint is evaluated on the test split, once.
* Long sequences: with ``overflow: split`` a sequence longer than 510 k-mers is
  cut into consecutive 510-k-mer windows (:func:`dnabert.lm.inference.encode`);
  each window is a training example with its sequence's label, and at
  evaluation the window probabilities are combined per sequence (``aggregate``:
  ``mean`` weighted by each window's k-mers, or ``max``: per-class maximum,
  renormalised; :func:`dnabert.lm.inference.combine_windows`). ``truncate`` keeps
  the first 510 k-mers.
* Checkpoints and pre-emption: checkpoints after dev evaluations (and every
  ``checkpoint_every_minutes``), resumed from the newest intact one with the run's
  fingerprint; SIGTERM/SIGUSR1 checkpoint and exit with status 143, so a rerun
  (Snakemake ``--retries``, a SLURM requeue) continues; the checkpoints are removed
  when the run completes (:mod:`~dnabert.lm.finetune.checkpoints`).
* Determinism: everything random (head and adapter initialisation, dropout, batch
  order) is a function of the seed; on CPU the same seed gives the same metrics,
  interrupted and resumed or not. Training steps run under bf16 autocast on CUDA and on CPUs
  with bfloat16 instructions (`precision: auto`); dev and test predictions as `dnabert predict` does.

Outputs of a run: ``metrics.json`` (test metrics of the best checkpoint, its dev
metrics, training facts; no timings), ``predictions.tsv`` (one row per test sequence:
id, row, label, predicted class, class probabilities), ``history.csv`` (the training
log) and the best model as a plain Hugging Face ``BertForSequenceClassification``
directory with its tokenizer (LoRA adapters merged in). Beside them: ``tensorboard/``
(event files: training loss, learning rate, dev and test metrics), ``adapter/`` with
LoRA (``adapter_model.safetensors``, ``adapter_config.json``) and, while it runs,
``checkpoints/``.

Modules: :mod:`~dnabert.lm.finetune.settings` (settings, LoRA settings, outputs),
:mod:`~dnabert.lm.finetune.data` (splits, batches), :mod:`~dnabert.lm.finetune.model`
(the classifier, LoRA), :mod:`~dnabert.lm.finetune.run` (device, optimiser, schedule),
:mod:`~dnabert.lm.finetune.checkpoints`, :mod:`~dnabert.lm.finetune.loop` (the training
loop), :mod:`~dnabert.lm.finetune.pipeline` (:func:`finetune`: one run end to end),
:mod:`~dnabert.lm.finetune.cli` (the command line; ``__main__`` runs it). Encoding,
batched no-grad prediction and window combination are :mod:`dnabert.lm.inference`'s.
"""

from dnabert.lm.finetune.cli import main
from dnabert.lm.finetune.data import POOL_BATCHES, TaskData, epoch_batches, load_data, steps_per_epoch
from dnabert.lm.finetune.model import build_classifier
from dnabert.lm.finetune.pipeline import finetune
from dnabert.lm.finetune.settings import INITS, FinetuneSettings, LoraSettings, RunOutputs

__all__ = [
    "INITS",
    "POOL_BATCHES",
    "FinetuneSettings",
    "LoraSettings",
    "RunOutputs",
    "TaskData",
    "build_classifier",
    "epoch_batches",
    "finetune",
    "load_data",
    "main",
    "steps_per_epoch",
]
