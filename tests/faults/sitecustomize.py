"""Test-only fault injection: pause a workflow job at a chosen point so a test can signal it.

Put this folder on PYTHONPATH and set ``DNABERT_TEST_PAUSE`` to
``module:function:kind:count`` and ``DNABERT_TEST_PAUSE_MARKER`` to a file path.
When ``module`` is imported, ``function`` is wrapped: for ``kind`` ``gen`` (a
generator) the pause comes after it yielded ``count`` items; for ``cm`` (a context
manager) it comes inside the ``count``-th ``with`` block, after the original entered
(its temporary file exists). At the pause the job writes its pid to the marker
file and sleeps, so the test can send SIGTERM or SIGKILL while partial files exist.
Python processes without the variable (Snakemake itself, other jobs) are untouched.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.util
import os
import sys
import time

_SPEC = os.environ.get("DNABERT_TEST_PAUSE")


def _pause() -> None:
    marker = os.environ["DNABERT_TEST_PAUSE_MARKER"]
    with open(marker + ".part", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(marker + ".part", marker)
    time.sleep(300)


def _wrap(original, kind: str, count: int):
    if kind == "gen":

        @functools.wraps(original)
        def generator(*args, **kwargs):
            for i, item in enumerate(original(*args, **kwargs), 1):
                yield item
                if i == count:
                    _pause()

        return generator
    calls = 0

    @functools.wraps(original)
    @contextlib.contextmanager
    def manager(*args, **kwargs):
        nonlocal calls
        with original(*args, **kwargs) as value:
            calls += 1
            if calls == count:
                _pause()
            yield value

    return manager


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, function: str, kind: str, count: int):
        self.module, self.function, self.kind, self.count = module, function, kind, count

    def find_spec(self, name, path, target=None):
        if name != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            setattr(module, self.function, _wrap(getattr(module, self.function), self.kind, self.count))

        spec.loader.exec_module = exec_module
        return spec


if _SPEC:
    _module, _function, _kind, _count = _SPEC.split(":")
    sys.meta_path.insert(0, _PatchOnImport(_module, _function, _kind, int(_count)))
