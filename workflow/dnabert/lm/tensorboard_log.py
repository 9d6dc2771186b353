"""TensorBoard event files of a training run (pretraining and fine-tuning), beside its CSV log.

:class:`ScalarLog` writes scalars with :class:`torch.utils.tensorboard.SummaryWriter`
under the run's ``tensorboard/`` folder, so a long run can be watched live with
``tensorboard --logdir results``. A fresh run first removes the event files of an
earlier one in that folder; a run resumed from a checkpoint at step ``S`` opens the
folder with ``purge_step=S + 1``, so TensorBoard hides what the interrupted attempt
logged after its checkpoint and every step appears once. A log without a folder (or on
a DDP rank other than 0) does nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EVENT_PREFIX = "events.out.tfevents."


def number_earlier_attempts(directory: Path) -> None:
    """Rename the event files already in ``directory`` to ``events.out.tfevents.<i>`` (i = 0, 1, ...), in order.

    TensorBoard reads a folder's event files in name order, and SummaryWriter names a
    file by the second it opened, host, pid and a counter: two attempts in one second
    of one process (tests) can sort ``...9`` after ``...10``. The numbered names sort
    before the new attempt's file (which carries the real time), so the order holds.
    """
    for i, path in enumerate(sorted(directory.glob(f"{EVENT_PREFIX}*"))):  # numbered ones first, keeping their i
        path.rename(directory / f"{EVENT_PREFIX}{i:010d}")


class ScalarLog:
    """Scalars of one run; :meth:`open` starts it (fresh or resumed), :meth:`close` flushes it."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._writer: Any = None

    def open(self, resumed_step: int | None = None) -> ScalarLog:
        """Start writing: after removing old event files (fresh), or purging steps after ``resumed_step``."""
        if self.directory is None or self._writer is not None:
            return self
        from torch.utils.tensorboard import SummaryWriter

        self.directory.mkdir(parents=True, exist_ok=True)
        if resumed_step is None:
            for old in self.directory.glob(f"{EVENT_PREFIX}*"):
                old.unlink()
        else:
            number_earlier_attempts(self.directory)
        purge = None if resumed_step is None else resumed_step + 1
        self._writer = SummaryWriter(str(self.directory), purge_step=purge, flush_secs=30)
        return self

    def scalars(self, values: Mapping[str, Any], step: int, prefix: str = "") -> None:
        """Write every number in ``values`` as ``prefix + name`` at ``step`` (None and non-numbers skipped)."""
        if self.directory is None:
            return
        self.open()
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            self._writer.add_scalar(prefix + name, float(value), global_step=step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            log.info("TensorBoard event files: %s", self.directory)


def read_scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a folder of event files, as (step, value) pairs (TensorBoard's own reader)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}  # fmt: skip
