"""Batches prepared ahead of the training step: a background thread builds (gathers, masks, pins) the next ones.

:class:`Prefetcher` iterates over ``build(job)`` for each job, in order, computed up
to ``depth`` jobs ahead of the consumer in one background thread, so the GPU (or the
training thread) does not wait for batch building. A thread rather than worker
processes: building a batch is numpy gathering and torch masking, which release the
GIL, the memory-mapped corpus is shared without copies, and every batch is a pure
function of its job (seeded generators), so the batches are exactly those of
building them synchronously, in the same order. On CUDA each prepared batch is put
in page-locked memory (``pin``) in the thread, and the consumer copies it with
``non_blocking=True``. ``depth=0`` builds each batch in the consumer's thread when
it is asked for (the synchronous path).

An exception in the thread is re-raised in the consumer at the batch that failed;
closing the prefetcher (or leaving its ``with`` block) stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import torch

Job = TypeVar("Job")
Batch = TypeVar("Batch")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher(Generic[Job, Batch], Iterator[Batch]):
    """``build(job)`` for each of ``jobs`` in order, ``depth`` ahead in a background thread (0: synchronously).

    With a CUDA ``device`` every batch is pinned (:func:`pin_memory`) after it is built.
    """

    def __init__(
        self,
        jobs: Iterable[Job],
        build: Callable[[Job], Batch],
        depth: int = 2,
        device: torch.device | None = None,
        name: str = "prefetch",
    ):
        if depth < 0:
            raise ValueError(f"prefetch depth must be at least 0, got {depth}")
        self._jobs = iter(jobs)
        self._build = build
        self._pin = device is not None and device.type == "cuda"
        self._device = device
        self._depth = depth
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._thread: threading.Thread | None = None
        if depth:
            self._thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ the thread

    def _work(self) -> None:
        try:
            if self._device is not None and self._device.type == "cuda" and self._device.index is not None:
                torch.cuda.set_device(self._device)  # pinned buffers belong to this process's GPU, not GPU 0
            for job in self._jobs:
                if self._stop.is_set():
                    return
                if not self._put(self._prepare(job)):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(_Failure(error))

    def _prepare(self, job: Job) -> Batch:
        batch = self._build(job)
        return pin_memory(batch) if self._pin else batch

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    # ------------------------------------------------------------------ the consumer

    def __iter__(self) -> Prefetcher[Job, Batch]:
        return self

    def __next__(self) -> Batch:
        if self._thread is None:
            if self._stop.is_set():
                raise StopIteration
            return self._prepare(next(self._jobs))
        if self._stop.is_set():
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the thread (it finishes the batch it is building) and drop what was prepared."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(timeout=_POLL_SECONDS)

    def __enter__(self) -> Prefetcher[Job, Batch]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pin_memory(batch: Any) -> Any:
    """A batch in page-locked memory: tensors and objects with ``pin_memory()``, inside lists and tuples too."""
    if isinstance(batch, (list, tuple)):
        return type(batch)(pin_memory(item) for item in batch)
    if hasattr(batch, "pin_memory"):
        return batch.pin_memory()
    return batch
