"""Shared file helpers: clear input errors, atomic writes, (b)gzip-aware opening."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping
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


def open_binary(path: PathLike) -> BinaryLines:
    """Open a plain or (b)gzipped file for reading byte lines (gzip errors name file and line)."""
    return BinaryLines(path)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    On any exception the temporary file is removed, so no partial output is left.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
