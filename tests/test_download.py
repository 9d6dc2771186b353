"""Downloads against a local HTTP server on 127.0.0.1: checksums, retries, no partial files."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from dnabert.download import Checksum, DownloadError, fetch, verify_file
from conftest import shared_file

GENOME_PIECE = "hg38/chr2_1-2333275.fa.gz"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; paths under /truncated/ send half the body then close,
    paths under /flaky/ fail with 503 on the first request for each file."""

    seen: set[str] = set()

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/flaky/"):
            name = self.path[len("/flaky"):]
            if name not in self.seen:
                self.seen.add(name)
                self.send_error(503, "try again")
                return
            self.path = name
        if self.path.startswith("/truncated/"):
            data = Path(self.translate_path(self.path[len("/truncated"):])).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
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
