"""Masked-language-model pretraining of a k-mer BERT on the tokenised corpus (DNABERT's recipe).

Run as ``python -m dnabert.lm.pretrain`` (one process) or under
``torchrun --nproc_per_node N -m dnabert.lm.pretrain`` (DistributedDataParallel; NCCL
on GPUs, gloo on CPUs). The Snakemake rule ``pretrain_mlm`` does either.

Data. The corpus pieces (``[CLS] k-mers [SEP]``, 7 to 512 tokens) of the
``splits.dev`` chromosomes are held out for evaluation; the rest are trained on.
Each epoch is a seeded permutation of the training pieces cut into pools of about
``POOL_BATCHES`` micro-batches; a pool is sorted by length and cut into
micro-batches of at most ``batch_tokens`` padded tokens (lengths padded to a
multiple of 8), and the micro-batches of the epoch are shuffled. Padding stays
around 1 % of tokens. Micro-batch ``i`` of the run (counted over epochs) is a
pure function of ``(seed, i)``, and so is its masking (:mod:`dnabert.lm.masking`),
so the data position of a checkpoint is one integer, and a run split over
``W`` processes with ``A`` accumulation steps sees exactly the micro-batches
that one process with ``W * A`` accumulation steps sees.

Step. Optimizer step ``s`` uses micro-batches ``consumed + [0, W*A)``; process
``r`` runs ``consumed + r*A + [0, A)``. The loss is the summed cross-entropy
over masked tokens divided by the number of masked tokens of the whole step
(all micro-batches, all processes: one all-reduce per step that also carries
the stop and checkpoint flags), so gradients are the exact token mean whatever
the split. The MLM head (transform + 4^k-way decoder) runs only at the masked
positions, gathered from the encoder output. AdamW (no decay on biases and
LayerNorm), linear warm-up then linear decay to zero, gradient clipping,
``precision`` (auto: bf16 autocast on GPUs and CPUs with native bf16, loss-scaled fp16 on older GPUs, else fp32),
optional ``torch.compile``. The coming steps' micro-batches are built ahead in a background thread
(``prefetch``); ``packing`` trains on unpadded packed micro-batches (:mod:`dnabert.lm.packing`).

Checkpoints. Every ``checkpoint_every_steps`` steps, every
``checkpoint_every_minutes`` minutes and at the end, rank 0 writes
``checkpoints/step_NNNNNNNN/`` (model.safetensors, training.pt with optimizer,
scheduler and every rank's RNG states, state.json) to a temporary directory and
renames it into place; the newest ``keep_checkpoints`` are kept. A new run
resumes from the newest checkpoint whose *fingerprint* (everything that shapes
the trajectory: model, masking, optimizer, batches, seed, corpus, held-out
chromosomes) matches and that reads back whole (a truncated newest checkpoint
is skipped with a warning naming the file, and removed), and reaches
bit-identical weights on CPU. SIGTERM or SIGUSR1 (cluster pre-emption) makes
every process finish its step, write a checkpoint and exit with status 143;
rerunning the job continues from there. The checkpoint format, the fall-back and
the signal handling are shared with fine-tuning (:mod:`dnabert.lm.checkpointing`).

Outputs: the Hugging Face model directory (config.json, model.safetensors,
tokenizer), ``metrics.json`` (held-out masked-token loss and accuracy, steps,
tokens, tokens/s), a CSV training log and a training-curve plot, and, beside
them, TensorBoard event files of the log's numbers (``tensorboard/``:
:mod:`dnabert.lm.tensorboard_log`).

Modules: :mod:`~dnabert.lm.pretrain.settings` (the run's settings and outputs),
:mod:`~dnabert.lm.pretrain.pieces` (the corpus pieces and the held-out split),
:mod:`~dnabert.lm.pretrain.batches` (length-grouped, masked micro-batches),
:mod:`~dnabert.lm.pretrain.objective` (the MLM loss and held-out evaluation),
:mod:`~dnabert.lm.pretrain.distributed` (the process group),
:mod:`~dnabert.lm.pretrain.checkpoints` (what a checkpoint holds; save and resume on every rank),
:mod:`~dnabert.lm.pretrain.loop` (the optimisation loop),
:mod:`~dnabert.lm.pretrain.history` (the training log and its plot),
:mod:`~dnabert.lm.pretrain.pipeline` (:func:`~dnabert.lm.pretrain.pipeline.train`, one run end to end),
:mod:`~dnabert.lm.pretrain.cli` (the command line; ``__main__`` runs it),
:mod:`~dnabert.lm.pretrain.launch` (the rule's command: one process, torchrun, srun + torchrun on several nodes).
All of them log to ``dnabert.lm.pretrain``.
"""
