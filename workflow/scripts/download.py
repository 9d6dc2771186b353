"""Snakemake glue: download one configured url, verified against its checksum.

A source marked ``unverified: true`` has none: its sha256 is logged and written
to ``<file>.sha256`` for the user to pin.
"""

from _glue import run

from dnabert.data.download import Checksum, DownloadError, fetch


def main() -> None:
    source = snakemake.params.source
    checksum = Checksum.from_spec(source)
    if checksum is None and not source.get("unverified"):
        raise DownloadError(f"{source['url']}: no md5/sha256 configured and not marked unverified: true")
    fetch(
        source["url"],
        snakemake.output[0],
        checksum,
        retries=snakemake.params.retries,
        timeout=snakemake.params.timeout,
    )


run(snakemake, main)
