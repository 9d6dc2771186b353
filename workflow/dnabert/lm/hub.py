"""Models by reference: a local directory or a Hugging Face Hub id, fetched through the Hub's cache.

A *model reference* is either a local model directory (this workflow's
``results/pretrain/model``, a fine-tuned ``.../seed1/model``, a DNABERT release
unpacked somewhere) or a Hub id ``org/name``, optionally pinned as
``org/name@revision`` (a branch, tag or commit), for example
``zhihan1996/DNA_bert_6`` (and ``DNA_bert_3``/``4``/``5``). A reference that names
an existing directory is always the directory.

Hub models are downloaded by :func:`huggingface_hub.snapshot_download` into the
Hub cache, so ``HF_HOME`` / ``HF_HUB_CACHE`` say where, ``HF_HUB_OFFLINE=1`` makes
it use the cache only, and a second use downloads nothing. Only the files a BERT
needs are fetched (:data:`MODEL_FILES`: config, vocabulary, weights, tokenizer
files); no code is fetched or run (never ``trust_remote_code``), and pickled
weights are read with ``torch.load(weights_only=True)`` by :mod:`dnabert.lm.models`.

:func:`fetch_model` (the workflow's ``fetch_model`` rule) copies a snapshot into a
local directory with ``provenance.json``: the id, the commit the revision resolved
to, and the SHA-256 of every file, which the report lists.

The module imports only the standard library at the top (the config checks that
run inside Snakemake import it); ``huggingface_hub`` is imported when a model is fetched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnabert.io import InputError, PathLike, atomic_dir, file_digest, write_json

log = logging.getLogger(__name__)

#: ``org/name`` or ``org/name@revision`` (Hub repository names: letters, digits, ``-_.``).
HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<revision>[\w./-]+))?$")
#: What is fetched from a Hub repository: everything a BERT directory needs, no code.
MODEL_FILES = (
    "config.json", "vocab.txt", "model.safetensors", "model.safetensors.index.json", "model-*.safetensors",
    "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
)  # fmt: skip
#: Files whose SHA-256 is recorded: the configuration, the vocabulary and the weights.
CHECKSUM_FILES = ("config.json", "vocab.txt", "model.safetensors", "model.safetensors.index.json",
                  "pytorch_model.bin")  # fmt: skip
#: Where the workflow keeps fetched Hub models (one directory per id).
MODELS_DIR = "resources/models"


@dataclass(frozen=True)
class HubId:
    """A model on the Hugging Face Hub: repository id and optional revision."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")

    @property
    def dirname(self) -> str:
        """A directory name for the model (``org--name``, ``@revision`` kept, ``/`` in it replaced)."""
        name = self.repo_id.replace("/", "--")
        return name + (f"@{self.revision.replace('/', '--')}" if self.revision else "")


def parse_reference(reference: PathLike) -> Path | HubId:
    """A local directory (if it exists, or the reference does not look like a Hub id) or a :class:`HubId`."""
    text = str(reference)
    path = Path(text).expanduser()
    if path.exists() or text.startswith((".", "/", "~")):
        return path
    match = HUB_ID.match(text)
    if match is None:
        return path
    return HubId(match["repo"], match["revision"])


def is_hub_id(reference: PathLike | None) -> bool:
    """True if ``reference`` is a Hub id (not an existing local path)."""
    return reference is not None and isinstance(parse_reference(reference), HubId)


def local_model_dir(reference: str) -> str:
    """Where the workflow reads a model from: the directory itself, or ``resources/models/<org--name>``."""
    parsed = parse_reference(reference)
    return f"{MODELS_DIR}/{parsed.dirname}" if isinstance(parsed, HubId) else reference


def hub_id_of_dir(dirname: str) -> HubId:
    """The Hub id a ``resources/models/<dirname>`` directory holds (inverse of :attr:`HubId.dirname`)."""
    name, _, revision = dirname.partition("@")
    org, sep, repo = name.partition("--")
    if not sep:
        raise InputError(None, f"not a fetched model directory name (org--name): {dirname!r}", field="model")
    return HubId(f"{org}/{repo}", revision or None)


def snapshot(hub: HubId) -> Path:
    """The local snapshot of a Hub model (downloaded into the Hub cache unless there already)."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = constants.HF_HUB_CACHE
    try:
        path = Path(snapshot_download(hub.repo_id, revision=hub.revision, allow_patterns=list(MODEL_FILES)))
    except LocalEntryNotFoundError:
        how = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        raise InputError(str(hub), f"not a local directory, and not in the Hugging Face cache ({cache}) while "
                         f"{how}: fetch it once where the Hub is reachable (e.g. `hf download {hub.repo_id}`), with "
                         "the same HF_HOME") from None  # fmt: skip
    except (RepositoryNotFoundError, GatedRepoError):
        raise InputError(str(hub), "not a local directory, and no such model on the Hugging Face Hub (or it is "
                         "private or gated)") from None  # fmt: skip
    except RevisionNotFoundError:
        raise InputError(str(hub), f"the Hub model {hub.repo_id} has no revision {hub.revision!r}") from None
    except HfHubHTTPError as err:
        raise InputError(str(hub), f"cannot fetch it from the Hugging Face Hub: {err}") from None
    if not (path / "config.json").is_file():
        raise InputError(path, f"{hub} has no config.json: not a BERT model directory")
    log.info("model %s: snapshot %s", hub, path)
    return path


def resolve_model(reference: PathLike) -> Path:
    """The local directory of a model reference (a Hub id is fetched into, or found in, the Hub cache)."""
    parsed = parse_reference(reference)
    if isinstance(parsed, HubId):
        return snapshot(parsed)
    if not parsed.is_dir():
        hint = "" if "/" not in str(reference) else " (nor a Hugging Face Hub id org/name)"
        raise InputError(parsed, f"model directory not found{hint}")
    return parsed


def checksums(directory: PathLike) -> dict[str, str]:
    """SHA-256 of the config, vocabulary and weight files present in a model directory."""
    directory = Path(directory)
    names = [n for n in CHECKSUM_FILES if (directory / n).is_file()]
    names += sorted(p.name for p in directory.glob("model-*.safetensors"))
    return {name: file_digest(directory / name, "sha256") for name in names}


def _copy_into(source: Path, target: Path) -> None:
    """A hard link where the cache and the target share a file system, else a copy (the blob, not the link)."""
    real = source.resolve()
    try:
        os.link(real, target)
    except OSError:
        shutil.copyfile(real, target)


def fetch_model(reference: str, out_dir: PathLike) -> dict[str, Any]:
    """Copy a Hub model's files into ``out_dir`` (atomically) with ``provenance.json``; return that record.

    ``provenance.json``: ``reference``, ``repo_id``, ``revision`` (as asked), ``commit`` (what it
    resolved to), ``snapshot`` (the cache path) and ``sha256`` of the config, vocabulary and weights.
    """
    parsed = parse_reference(reference)
    if not isinstance(parsed, HubId):
        raise InputError(str(reference), "not a Hugging Face Hub id (org/name[@revision])")
    source = snapshot(parsed)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for path in sorted(source.iterdir()):
            if path.is_file():
                _copy_into(path, tmp / path.name)
        record = {"reference": reference, "repo_id": parsed.repo_id, "revision": parsed.revision,
                  "commit": source.name, "snapshot": str(source), "sha256": checksums(tmp)}  # fmt: skip
        write_json(tmp / "provenance.json", record)
    for name, digest in record["sha256"].items():
        log.info("%s %s: sha256 %s", parsed, name, digest)
    return record
