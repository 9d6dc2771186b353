"""Pre-emption: SIGTERM/SIGUSR1 are recorded so the loop can checkpoint, then :class:`Preempted` stops the run."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

log = logging.getLogger("dnabert.lm.pretrain")

PREEMPTED_EXIT = 143  # exit status after a checkpoint written on SIGTERM (128 + 15)


class Preempted(RuntimeError):
    """Training stopped on a signal after writing a checkpoint; rerun to resume."""

    def __init__(self, step: int, signum: int):
        self.step = step
        self.signum = signum
        super().__init__(f"stopped by signal {signal.Signals(signum).name} at step {step}; checkpoint written")


class StopSignal:
    """Records SIGTERM/SIGUSR1 instead of dying, so the loop can checkpoint first."""

    SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s is not None)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if _in_main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            log.warning("received %s: finishing this step, then writing a checkpoint", signal.Signals(signum).name)
        self.received = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
