"""How the pretraining job starts: one process, torchrun on one node, or srun + torchrun on several nodes.

:func:`launcher` gives the shell command prefix that the rule ``pretrain_mlm`` puts
before ``dnabert.lm.pretrain ...`` (it ends in ``-m``), and :func:`job_resources` the
rule's Snakemake resources:

* ``gpus`` 0 or 1, one node: ``python -m`` (a GPU job first claims its GPU slot:
  ``python -m dnabert.gpus --gpus 1 --``, :mod:`dnabert.gpus`);
* ``gpus`` N > 1, one node: ``torchrun --standalone --nproc_per_node N`` under the
  slot claim (N GPUs of the machine, one process each, DDP over NCCL);
* ``nodes`` M > 1 (SLURM only): ``srun`` starts one torchrun agent per node
  (``--nnodes M --nproc_per_node N``); the agents meet at a c10d rendezvous on the
  job's first node (``scontrol show hostnames``), port ``29500 + SLURM_JOB_ID % 20000``,
  rendezvous id the job id. The job asks SLURM for ``--nodes=M`` and ``--gres=gpu:N``
  (N GPUs on every node). Every process reads and rank 0 writes the checkpoints in
  the shared ``results/pretrain/checkpoints``, so a resubmitted job resumes as on one node.

:func:`torchrun_arguments` is the torchrun part alone (tests start two agents with it
on one machine, rendezvousing over 127.0.0.1).
"""

from __future__ import annotations

import shlex

RDZV_PORT_BASE = 29500
FIRST_NODE = '"$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"'
RDZV_PORT = f"$(( {RDZV_PORT_BASE} + SLURM_JOB_ID % 20000 ))"


def torchrun_arguments(nodes: int, per_node: int, endpoint: str | None = None, rdzv_id: str = "dnabert") -> list[str]:
    """torchrun's options: standalone on one node, else a c10d rendezvous at ``endpoint`` (host:port)."""
    if nodes <= 1:
        return ["--standalone", "--nproc_per_node", str(per_node)]
    if endpoint is None:
        raise ValueError("several nodes need a rendezvous endpoint (host:port)")
    return ["--nnodes", str(nodes), "--nproc_per_node", str(per_node), "--rdzv_backend", "c10d",
            "--rdzv_endpoint", endpoint, "--rdzv_id", rdzv_id, "--max_restarts", "0"]  # fmt: skip


def launcher(python: str, gpus: int, nodes: int = 1, threads: int = 1) -> str:
    """The shell prefix that runs ``<prefix> dnabert.lm.pretrain ...`` with ``gpus`` per node on ``nodes`` nodes.

    ``python`` is already shell-quoted. CPU-only runs (``gpus`` 0) use one process per node.
    """
    if nodes < 1 or gpus < 0:
        raise ValueError(f"nodes must be at least 1 and gpus at least 0, got {nodes} and {gpus}")
    per_node = max(gpus, 1)
    if nodes > 1:
        torchrun = torchrun_arguments(nodes, per_node, "ENDPOINT", "JOBID")
        text = " ".join(torchrun).replace("ENDPOINT", f"{FIRST_NODE}:{RDZV_PORT}").replace("JOBID", '"$SLURM_JOB_ID"')
        srun = f"srun --nodes {nodes} --ntasks-per-node 1 --cpus-per-task {threads} --kill-on-bad-exit=1"
        return f"{srun} {python} -m torch.distributed.run {text} -m"
    claim = f"{python} -m dnabert.gpus --gpus {gpus} -- " if gpus else ""
    if gpus > 1:
        return f"{claim}{python} -m torch.distributed.run {shlex.join(torchrun_arguments(1, gpus))} -m"
    return f"{claim}{python} -m"


def job_resources(gpus: int, nodes: int = 1) -> dict[str, int | str]:
    """The rule's resources: ``gpu`` on one node (Snakemake's count; sbatch ``--gpus``), else nodes + per-node gres."""
    if nodes > 1:
        return {"nodes": nodes, "gpu": 0, "gres": f"gpu:{gpus}"} if gpus else {"nodes": nodes, "gpu": 0}
    return {"nodes": 1, "gpu": gpus}
