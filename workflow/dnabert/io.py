"""Shared file helpers: clear input errors, atomic writes (files and folders), temporary files a later job can
sweep, (b)gzip-aware opening."""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike


class InputError(ValueError):
    """Bad user input, reported as ``file:line: field: message``."""

    def __init__(
        self,
        path: PathLike | None,
        message: str,
        line: int | None = None,
        field: str | None = None,
    ):
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found.

    Defined here (standard library only) so job code can raise it without
    importing the Snakefile-time checks in :mod:`dnabert.config.validation`.
    """

    def __init__(self, problems: list[str], config_files: list[str] | None = None):
        problems = list(dict.fromkeys(problems))  # one line per problem, however many places found it
        self.problems = problems
        where = f" ({', '.join(config_files)})" if config_files else ""
        super().__init__(f"invalid configuration{where}:\n  - " + "\n  - ".join(problems))


def is_gzipped(path: PathLike) -> bool:
    """True if the file starts with the gzip magic bytes (plain gzip or BGZF)."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


#: The UTF-8 byte-order mark some editors (Excel, Notepad) put at the start of a file.
UTF8_BOM = b"\xef\xbb\xbf"
#: What a damaged gzip stream raises while it is read.
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


class _Reader:
    """Lines of a plain or (b)gzipped file, with read errors as :class:`InputError` naming file and line.

    A truncated or corrupt gzip stream (``EOFError``, ``BadGzipFile``, ``zlib.error``)
    becomes one error naming the file and the line being read. A UTF-8 byte-order
    mark at the very start is harmless and stripped.
    """

    def __init__(self, path: PathLike):
        self.path = str(path)
        self._gzipped = is_gzipped(path)
        self._raw: IO[bytes] = gzip.open(path, "rb") if self._gzipped else open(path, "rb")
        self.line = 0  # lines returned so far

    def _damaged(self, error: Exception) -> InputError:
        what = "ends early (truncated file)" if isinstance(error, EOFError) else f"is corrupt ({error})"
        return InputError(self.path, f"gzip data {what}: copy or download the file again", line=self.line + 1)

    def _next_bytes(self) -> bytes:
        try:
            raw = self._raw.readline()
        except _GZIP_ERRORS as error:
            raise self._damaged(error) from None
        if raw:
            if self.line == 0 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            self.line += 1
        return raw

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BinaryLines(_Reader):
    """Byte lines of a plain or (b)gzipped file (line endings kept); see :class:`_Reader`."""

    def readline(self) -> bytes:
        return self._next_bytes()

    def __iter__(self) -> Iterator[bytes]:
        while raw := self._next_bytes():
            yield raw


class TextLines(_Reader):
    """ASCII text lines of a plain or (b)gzipped file, ``\r\n`` read as ``\n``; see :class:`_Reader`.

    A non-ASCII byte is an :class:`InputError` naming the file, line and column
    (the formats read here are ASCII: FASTA, BED, narrowPeak, GTF, CSV/TSV tables).
    """

    def readline(self) -> str:
        raw = self._next_bytes()
        if not raw.isascii():
            column = next(i for i, byte in enumerate(raw) if byte > 127) + 1
            raise InputError(self.path, f"non-ASCII byte 0x{raw[column - 1]:02x} at column {column}: "
                                        "the file must be plain ASCII text", line=self.line)  # fmt: skip
        text = raw.decode("ascii")
        return text[:-2] + "\n" if text.endswith("\r\n") else text

    def __iter__(self) -> Iterator[str]:
        while text := self.readline():
            yield text

    def read(self) -> str:
        return "".join(self)


def open_text(path: PathLike) -> TextLines:
    """Open a plain or (b)gzipped ASCII text file for reading lines (errors name file and line)."""
    return TextLines(path)


def bed_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """The data lines of a (gzipped) BED-like file as ``(line number, line without its end)``;
    blank, ``#``, ``track`` and ``browser`` lines are skipped."""
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            if line.strip() and not line.startswith(("#", "track", "browser")):
                yield line_no, line.rstrip("\r\n")


def open_binary(path: PathLike) -> BinaryLines:
    """Open a plain or (b)gzipped file for reading byte lines (gzip errors name file and line)."""
    return BinaryLines(path)


#: Temporary files and folders beside an output are named ``.{output name}.{host}-{pid}.{random}.tmp``,
#: so a later job can tell whose they are (:func:`sweep_stale_temps`).
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
#: A temporary file of another host is stale once nothing in it has changed for this long.
STALE_ELSEWHERE_SECONDS = 3600.0

log = logging.getLogger(__name__)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"


def temp_prefix(target: PathLike) -> str:
    """The name prefix of this process's temporary files for ``target`` (see :data:`TEMP_PATTERN`)."""
    return f".{Path(target).name}.{_host()}-{os.getpid()}."


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    On any exception (a signal turned into one included, see :mod:`dnabert.job`)
    the temporary file is removed, so no partial output is left.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def temp_dir_for(target: PathLike) -> Iterator[Path]:
    """A temporary working folder beside ``target``, named after it, removed on exit whatever happens."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` (a folder) only on success.

    The previous folder, if any, is renamed aside first and removed after the swap,
    so ``path`` never holds a mixture of old and new files.
    """
    target = Path(path)
    with temp_dir_for(target) as tmp:
        yield tmp
        tmp.chmod(0o777 & ~_umask())
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent))
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            make_writable(old)
            shutil.rmtree(old, ignore_errors=True)


def make_writable(path: Path) -> None:
    """Give the owner write permission on ``path`` and below (protected outputs are read-only)."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not item.is_symlink():
            item.chmod(item.stat().st_mode | stat.S_IWUSR)


def _owner_gone(match: re.Match, path: Path) -> bool:
    """Whether the process that made a temporary file is gone (this host: its pid; others: idle an hour)."""
    if match.group("host") == _host():
        try:
            os.kill(int(match.group("pid")), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    items = [path, *path.rglob("*")] if path.is_dir() else [path]
    newest = max(item.lstat().st_mtime for item in items)
    return time.time() - newest > STALE_ELSEWHERE_SECONDS


def sweep_stale_temps(outputs: Iterable[PathLike]) -> list[Path]:
    """Remove temporary files and folders of ``outputs`` whose writing process is gone; return them.

    Only names made by :func:`temp_prefix` for one of ``outputs`` are considered, so
    nothing else beside them is touched. A job calls this at start: a kill -9, an
    out-of-memory kill or a lost node leaves such files behind.
    """
    removed = []
    for output in outputs:
        target = Path(output)
        if not target.parent.is_dir():
            continue
        for candidate in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            match = TEMP_PATTERN.match(candidate.name)
            if not match or match.group("name") != target.name:
                continue
            try:
                if not _owner_gone(match, candidate):
                    log.info("kept %s: its writer (pid %s on %s) may still run", candidate, match.group("pid"),
                             match.group("host"))
                    continue
                if candidate.is_dir() and not candidate.is_symlink():
                    make_writable(candidate)
                    shutil.rmtree(candidate)
                else:
                    candidate.unlink()
            except FileNotFoundError:
                continue
            removed.append(candidate)
            log.info("removed %s, left by an interrupted job (pid %s on %s)", candidate, match.group("pid"),
                     match.group("host"))
    return removed


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", gzip_level: int | None = None) -> Iterator[IO]:
    """Open a temporary file for writing and rename it to ``path`` on success.

    With ``gzip_level`` the stream is gzip-compressed with a zero timestamp and no
    file name in the header, so identical content gives byte-identical files.
    """
    with atomic_path(path) as tmp:
        if gzip_level is None:
            with open(tmp, mode) as handle:
                yield handle
        else:
            with open(tmp, "wb") as raw:
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=gzip_level, mtime=0
                ) as gz:
                    if "b" in mode:
                        yield gz
                    else:
                        text = io.TextIOWrapper(gz, encoding="ascii", newline="\n")
                        yield text
                        text.flush()
                        text.detach()


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path) as handle:
        handle.write(text)


def file_digest(path: PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (any :mod:`hashlib` algorithm), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_table_rows(path: PathLike, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A TSV of ``rows`` under the header ``columns``, written atomically: floats with 4 decimals, blank for None."""
    def cell(value: Any) -> str:
        return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

    with atomic_write(path) as handle:
        handle.write("\t".join(columns) + "\n")
        for row in rows:
            handle.write("\t".join(cell(row.get(key)) for key in columns) + "\n")


def read_json(path: PathLike) -> dict[str, Any]:
    """A JSON object from a file, with the file named in any error."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    return data


def write_json(path: PathLike, data: Mapping[str, Any]) -> None:
    """JSON with sorted keys and a trailing newline, written atomically."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
