"""Checksummed, retried, atomic downloads (http, https, ftp and file URLs)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from dnabert.io import PathLike, atomic_path, atomic_write, file_digest, is_gzipped

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


class DownloadError(RuntimeError):
    """A download failed after all retries, or its checksum did not match."""


@dataclass(frozen=True)
class Checksum:
    """An expected digest: ``algorithm`` is ``md5`` or ``sha256``."""

    algorithm: str
    hexdigest: str

    @classmethod
    def from_spec(cls, spec: dict) -> Checksum | None:
        """The checksum of a config source mapping (``md5:`` or ``sha256:`` key), if any."""
        found = [cls(name, str(spec[name]).lower()) for name in ("sha256", "md5") if spec.get(name)]
        return found[0] if found else None


def verify_file(path: PathLike, checksum: Checksum | None) -> None:
    """Raise DownloadError if ``path`` does not match ``checksum`` (no-op without one)."""
    if checksum is None:
        return
    actual = file_digest(path, checksum.algorithm)
    if actual != checksum.hexdigest:
        raise DownloadError(
            f"{path}: {checksum.algorithm} mismatch: expected {checksum.hexdigest}, got {actual}"
        )


def check_complete(path: PathLike, url: str) -> None:
    """A gzip (or BGZF) file must decompress to its end: else DownloadError (a truncated transfer)."""
    if not is_gzipped(path):
        return
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(CHUNK_BYTES):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        what = "ends early" if isinstance(error, EOFError) else f"is corrupt ({error})"
        raise DownloadError(f"{url}: the downloaded gzip data {what}: the transfer was cut short "
                            "or the file is damaged") from None


def _stream_once(url: str, tmp: Path, algorithm: str, timeout: float, verify_gzip: bool = False) -> str:
    """Copy ``url`` to ``tmp`` once; return its digest. Raises on a short read."""
    digest = hashlib.new(algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": "dnabert-workflow"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, desc=Path(url).name, disable=None) as bar:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if expected is not None and received != expected:
        raise DownloadError(f"{url}: connection closed after {received} of {expected} bytes")
    if verify_gzip:
        check_complete(tmp, url)
    return digest.hexdigest()


def fetch(
    url: str,
    dest: PathLike,
    checksum: Checksum | None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff_seconds: float = 2.0,
) -> Path:
    """Download ``url`` to ``dest``, verify it, and rename it into place.

    Transient failures (network errors, truncated transfers) are retried with
    exponential back-off. A checksum mismatch is not retried. On failure no file
    is left at ``dest``. Without a checksum (an ``unverified: true`` source) a gzip
    file must first decompress to its end (a truncated one is retried like a short
    read), then the sha256 computed while downloading is logged and written to
    ``<dest>.sha256`` (``sha256sum`` format) so that it can be pinned in the config.
    """
    dest = Path(dest)
    algorithm = checksum.algorithm if checksum else "sha256"
    with atomic_path(dest) as tmp:
        for attempt in range(1, retries + 1):
            try:
                actual = _stream_once(url, tmp, algorithm, timeout, verify_gzip=checksum is None)
                break
            except (OSError, http.client.HTTPException, DownloadError) as error:
                if isinstance(error, urllib.error.HTTPError) and 400 <= error.code < 500:
                    raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
                if attempt == retries:
                    raise DownloadError(f"{url}: failed after {retries} attempts: {error}") from error
                wait = backoff_seconds * 2 ** (attempt - 1)
                log.warning("%s: attempt %d failed (%s); retrying in %.0f s", url, attempt, error, wait)
                time.sleep(wait)
        if checksum is not None and actual != checksum.hexdigest:
            raise DownloadError(
                f"{url}: {checksum.algorithm} mismatch: expected {checksum.hexdigest}, got {actual}"
            )
        log.info("downloaded %s -> %s (%s %s)", url, dest, algorithm, actual)
    if checksum is None:
        record = write_sha256(dest, actual)
        log.warning(
            "%s: UNVERIFIED download (no checksum in the config): sha256 %s, written to %s. "
            "Check it against the provider if you can, then pin it: add `sha256: %s` to this source in your config.",
            url, actual, record, actual,
        )
    return dest


def write_sha256(path: PathLike, hexdigest: str) -> Path:
    """Write ``<path>.sha256`` in ``sha256sum`` format (``<digest>  <name>``); return its path."""
    path = Path(path)
    record = path.with_name(path.name + ".sha256")
    with atomic_write(record) as handle:
        handle.write(f"{hexdigest}  {path.name}\n")
    return record
