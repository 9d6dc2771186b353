"""Downloads against a local HTTP server on 127.0.0.1: checksums, retries, no partial files."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from dnabert.data.download import Checksum, DownloadError, fetch, verify_file
from conftest import LocalHTTPHandler, shared_file

GENOME_PIECE = "hg38/chr2_1-2333275.fa.gz"


class _Handler(LocalHTTPHandler):
    """Serves a directory; paths under /truncated/ send half the body then close,
    paths under /flaky/ fail with 503 on the first request for each file."""

    seen: set[str] = set()

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/flaky/"):
            name = self.path[len("/flaky"):]
            if name not in self.seen:
                self.seen.add(name)
                self.send_error(503, "try again")
                return
            self.path = name
        super().do_GET()


@pytest.fixture(scope="module")
def server():
    root = shared_file(GENOME_PIECE).parents[1]

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_checksum_match(server, tmp_path, algorithm):
    source = shared_file(GENOME_PIECE)
    dest = tmp_path / "dl" / "genome.fa.gz"
    fetch(f"{server}/{GENOME_PIECE}", dest, Checksum(algorithm, digest(source, algorithm)), retries=1)
    assert dest.read_bytes() == source.read_bytes()
    assert leftovers(dest.parent) == ["genome.fa.gz"]


def test_checksum_mismatch_leaves_no_output(server, tmp_path):
    dest = tmp_path / "dl" / "genome.fa.gz"
    with pytest.raises(DownloadError, match=r"md5 mismatch: expected 0{32}, got [0-9a-f]{32}"):
        fetch(f"{server}/{GENOME_PIECE}", dest, Checksum("md5", "0" * 32), retries=1)
    assert leftovers(dest.parent) == []


def test_interrupted_download_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "dl" / "genome.fa.gz"
    with pytest.raises(DownloadError, match="failed after 2 attempts"):
        fetch(f"{server}/truncated/{GENOME_PIECE}", dest, None, retries=2, backoff_seconds=0.01)
    assert leftovers(dest.parent) == []


def test_transient_error_is_retried(server, tmp_path):
    source = shared_file(GENOME_PIECE)
    dest = tmp_path / "genome.fa.gz"
    fetch(f"{server}/flaky/{GENOME_PIECE}", dest, Checksum("sha256", digest(source, "sha256")),
          retries=2, backoff_seconds=0.01)
    assert dest.read_bytes() == source.read_bytes()


def test_missing_file_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{server}/no/such/file.gz", tmp_path / "x.gz", None, retries=5, backoff_seconds=10)
    assert leftovers(tmp_path) == []


def test_file_url_and_verify_file(tmp_path):
    source = shared_file(GENOME_PIECE)
    md5 = digest(source, "md5")
    dest = tmp_path / "copy.fa.gz"
    fetch(source.as_uri(), dest, Checksum.from_spec({"url": "x", "md5": md5.upper()}), retries=1)
    verify_file(dest, Checksum("md5", md5))
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        verify_file(dest, Checksum("sha256", "1" * 64))


def test_unverified_download_records_its_sha256(server, tmp_path, caplog):
    """Without a checksum (unverified: true) the sha256 is computed while downloading,
    written beside the file in sha256sum format and logged with a request to pin it."""
    source = shared_file(GENOME_PIECE)
    dest = tmp_path / "dl" / "genome.fa.gz"
    with caplog.at_level("WARNING", logger="dnabert.data.download"):
        fetch(f"{server}/{GENOME_PIECE}", dest, Checksum.from_spec({"url": "x", "unverified": True}), retries=1)
    expected = digest(source, "sha256")
    assert dest.read_bytes() == source.read_bytes()
    assert (dest.parent / "genome.fa.gz.sha256").read_text() == f"{expected}  genome.fa.gz\n"
    assert leftovers(dest.parent) == ["genome.fa.gz", "genome.fa.gz.sha256"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "UNVERIFIED" in warning and f"sha256: {expected}" in warning and "genome.fa.gz.sha256" in warning


def test_unverified_truncated_gzip_is_refused_and_no_sha256_written(tmp_path):
    """A gzip that arrives whole but truncated at the source (length as announced) fails to decompress:
    without a checksum it is retried, then refused, and no file or .sha256 is left."""
    whole = shared_file(GENOME_PIECE).read_bytes()
    served = tmp_path / "served.fa.gz"
    served.write_bytes(whole[: len(whole) // 3])
    dest = tmp_path / "dl" / "genome.fa.gz"
    with pytest.raises(DownloadError, match=r"failed after 2 attempts: .*the downloaded gzip data ends early"):
        fetch(served.as_uri(), dest, None, retries=2, backoff_seconds=0.01)
    assert leftovers(dest.parent) == []
    # The same bytes with their checksum pinned are the provider's file: accepted as they are.
    fetch(served.as_uri(), dest, Checksum("sha256", digest(served, "sha256")), retries=1)
    assert leftovers(dest.parent) == ["genome.fa.gz"]


@pytest.mark.workflow
def test_unverified_source_through_the_download_rule(server, tmp_path):
    """unverified: true end to end: Snakemake warns at start, the download rule fetches the file
    and leaves its sha256 beside it and in the rule's log."""
    from conftest import run_snakemake

    blacklist = shared_file("hg38/hg38-blacklist.v2.bed.gz")
    piece = shared_file(GENOME_PIECE)
    config = tmp_path / "unverified.yaml"
    config.write_text(
        f"genome:\n  name: piece\n  url: {server}/{GENOME_PIECE}\n  md5: {digest(piece, 'md5')}\n"
        f"  blacklist: {{url: {server}/hg38/hg38-blacklist.v2.bed.gz, unverified: true}}\n"
    )
    target = "resources/download/piece/blacklist.bed.gz"
    result = run_snakemake(tmp_path, target, "--cores", "1", "--configfile", str(config))
    assert f"genome.blacklist: unverified download (unverified: true, no checksum): {server}/hg38" in result.stderr
    sha256 = digest(blacklist, "sha256")
    assert (tmp_path / f"{target}.sha256").read_text() == f"{sha256}  blacklist.bed.gz\n"
    log = (tmp_path / "logs" / "download" / "piece" / "blacklist.bed.gz.log").read_text()
    assert "UNVERIFIED download" in log and f"sha256: {sha256}" in log
