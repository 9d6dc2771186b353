"""Snakemake glue: write results/report.html with `snakemake --report` on the finished run.

Runs the same Snakefile, working directory, config files and --config values as the
Snakemake that runs this job, with the Python that runs it, writes the report beside
the output and renames it into place. --nolock: the running Snakemake holds the lock;
--report only reads.
"""

import logging
import os
import subprocess
from pathlib import Path

from _glue import run

log = logging.getLogger("report")


def main() -> None:
    output = Path(snakemake.output[0])
    tmp = Path.cwd() / output.with_name(f".{output.stem}.tmp.html")
    params = snakemake.params
    command = [params.python, "-m", "snakemake", "--snakefile", params.snakefile, "--directory", os.getcwd(),
               "--report", str(tmp), "--nolock"]
    if params.configfiles:
        command += ["--configfile", *params.configfiles]
    if params.config_args:
        command += ["--config", *params.config_args]
    log.info("running %s", " ".join(command))
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for handler in logging.getLogger().handlers:  # its output goes to the log file only
        if isinstance(handler, logging.FileHandler):
            handler.stream.write(result.stdout)
            handler.flush()
    if result.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise RuntimeError(f"snakemake --report failed with exit status {result.returncode}:\n{tail}")
    os.replace(tmp, output)
    log.info("wrote %s (%.1f MB)", output, output.stat().st_size / 1e6)


run(snakemake, main)
