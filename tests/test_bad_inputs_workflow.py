"""Bad inputs of the workflow's own kinds, table-driven: each case asserts the exact one-line message.

Kinds: config files (YAML/JSON read strictly), config schema, config semantics,
downloads (a local HTTP server on 127.0.0.1), VCF files, model directories and
pretraining checkpoints, and a few cases through Snakemake itself (what the
terminal shows for a failed job; a bad --configfile stopping the run at start).
The parsers of data files (FASTA, peaks, GTF, tables) have theirs in
tests/test_bad_inputs_data.py.

Every case also checks that no declared output and no temporary file is left.
Functions are called directly wherever the message comes from them; Snakemake
runs only where the DAG or the terminal is the point.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pysam
import pytest
import torch
import yaml
from transformers import BertConfig, BertForSequenceClassification

from conftest import REPO, TINY, LocalHTTPHandler, run_snakemake
from dnabert.config.validation import ConfigError, validate_config
from dnabert.config.yamlfile import config_file_problems
from dnabert.data.download import Checksum, DownloadError, fetch
from dnabert.interpret.variants.vcf import score_vcf_file
from dnabert.io import TEMP_PATTERN, InputError
from dnabert.lm import kmer
from dnabert.lm.inference import load_classifier
from dnabert.lm.models import load_pretrained, save_model

SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"
TINY_CONFIG = yaml.safe_load(Path(TINY).read_text())


def leftovers(root: Path) -> list[str]:
    """Temporary files or folders of the workflow (dnabert.io.TEMP_PATTERN) anywhere under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*") if TEMP_PATTERN.match(p.name))


# --------------------------------------------------------------------------- config files (YAML, JSON)

DUPLICATE = "duplicate key (first given at line {first}); remove one of them"
CONFIG_FILES = {
    "duplicate top-level key": ("kmer: 6\ngenome: {name: g, simulate: {}}\nkmer: 5\n",
                                ["{f}:3: field 'kmer': " + DUPLICATE.format(first=1)]),
    "duplicate nested key": ("tasks:\n  ctcf:\n    type: peaks\n    window: 101\n    window: 51\n",
                             ["{f}:5: field 'tasks.ctcf.window': " + DUPLICATE.format(first=4)]),
    "duplicate key in a list item": ("genome:\n  simulate:\n    tfs:\n      - {name: CTCF, motif: MA0139.2, name: X}\n",
                                     ["{f}:4: field 'genome.simulate.tfs.0.name': " + DUPLICATE.format(first=4)]),
    "two duplicates, both named": ("a: 1\nb: 2\na: 3\nb: 4\n",
                                   ["{f}:3: field 'a': " + DUPLICATE.format(first=1),
                                    "{f}:4: field 'b': " + DUPLICATE.format(first=2)]),
    "unclosed flow sequence": ("splits:\n  dev: [chr1, chr2\n",
                               ["{f}:3: not valid YAML: expected ',' or ']', but got '<stream end>' (column 1), "
                                "while parsing a flow sequence at line 2"]),
    "tab indentation": ("genome:\n\tname: g\n",
                        ["{f}:2: not valid YAML: found character '\\t' that cannot start any token (column 1), "
                         "while scanning for the next token; indent with spaces, not tabs"]),
    "mapping value where none is allowed": ("genome: name: g\n",
                                            ["{f}:1: not valid YAML: mapping values are not allowed here "
                                             "(column 13)"]),
    "top level is a list": ("- genome\n- tasks\n",
                            ["{f}:1: a config file must be a mapping of keys at the top level"]),
    "empty file": ("# nothing here\n", ["{f}: empty config file"]),
    "not UTF-8": (b"genome:\n  name: g\xe9nome\n", ["{f}:2: not UTF-8 text (byte 0xe9)"]),
    "JSON duplicate key": ('{"kmer": 6, "kmer": 5}', ["{f}: field 'kmer': duplicate key in a JSON object; "
                                                     "remove one of them"]),
}  # fmt: skip


@pytest.mark.parametrize("text, expected", CONFIG_FILES.values(), ids=CONFIG_FILES.keys())
def test_config_file_problems(tmp_path, text, expected):
    path = tmp_path / "my.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert config_file_problems([path]) == [line.format(f=path) for line in expected]


def test_missing_config_file(tmp_path):
    assert config_file_problems([tmp_path / "no.yaml"]) == [f"{tmp_path / 'no.yaml'}: config file not found"]


def test_config_file_command_prints_the_problems(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("kmer: 6\nkmer: 5\n")
    result = subprocess.run([sys.executable, "-m", "dnabert.config.yamlfile", str(path)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"{path}:2: field 'kmer': {DUPLICATE.format(first=1)}\n"


# --------------------------------------------------------------------------- config schema and semantics


def _set(path: str, value) -> Callable[[dict], None]:
    """A config edit: set the dotted ``path`` (list items by index) to ``value``."""

    def edit(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _delete(path: str) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        del node[last]

    return edit


SCHEMA_CASES = {
    "unknown top-level key": (_set("genom", {}), "unknown key 'genom'; allowed here: " + ", ".join(
        sorted(yaml.safe_load(SCHEMA.read_text())["properties"]))),
    "wrong type": (_set("pretrain.steps", "many"), "pretrain.steps: expected integer, got 'many'"),
    "kmer_lr.k above the tokenizer's limit": (
        _set("baselines.kmer_lr.k", [3, 8]),
        "baselines.kmer_lr.k.1: 8 is greater than the maximum of 7: the tokenizer's k-mer ids are uint16, so k is "
        "at most 7 (4^8 + 5 ids do not fit)"),
    "kmer not a DNABERT size": (_set("kmer", 7), "kmer: 7 is not one of [3, 4, 5, 6]"),
    "bad JASPAR id": (_set("genome.simulate.tfs.0.motif", "CTCF"),
                      "genome.simulate.tfs.0.motif: 'CTCF' does not match '^MA[0-9]{4}\\\\.[0-9]+$'"),
    "peaks task without peaks": (_delete("tasks.ctcf.peaks"), "tasks.ctcf: 'peaks' is a required property"),
    "window of 0": (_set("tasks.ctcf.window", 0), "tasks.ctcf.window: 0 is less than the minimum of 1"),
    "bad selection metric": (_set("finetune.select_on", "speed"),
                             "finetune.select_on: 'speed' is not one of ['loss', 'accuracy', 'f1', 'mcc', 'auroc', "
                             "'auprc', 'precision', 'recall']"),
    "task name with a space": (lambda c: c["tasks"].__setitem__("my task", c["tasks"]["ctcf"]),
                               "tasks: 'my task' does not match '^[A-Za-z0-9_-]+$'"),
    "pretrain.overwrite not a boolean": (_set("pretrain.overwrite", "yes"),
                                         "pretrain.overwrite: expected boolean, got 'yes'"),
}  # fmt: skip

SEMANTIC_CASES = {
    "two genome sources": (_set("genome.path", "g.fa"),
                           "genome: give exactly one of path, url or simulate (found: path, simulate)"),
    "genome file not found": (
        lambda c: c.update(genome={"name": "g", "path": "/nonexistent/g.fa"}, tasks={}, finetune={}),
        "genome.path: file not found: /nonexistent/g.fa"),
    "simulated input without a simulated genome": (
        lambda c: c.update(genome={"name": "g", "path": TINY, "blacklist": {"simulated": "blacklist.bed.gz"}},
                           tasks={}, finetune={}),
        "genome.blacklist.simulated: only possible with genome.simulate"),
    "download without checksum": (_set("tasks.ctcf.peaks", {"url": "https://example.org/p.bed.gz"}),
                                  "tasks.ctcf.peaks.url: downloads must be checksummed: add md5: or sha256: (or, if "
                                  "no published checksum exists, unverified: true)"),
    "unverified and a checksum": (_set("tasks.ctcf.peaks", {"url": "https://example.org/p.bed.gz",
                                                             "md5": "0" * 32, "unverified": True}),
                                  "tasks.ctcf.peaks.unverified: give either a checksum (md5/sha256) or unverified: "
                                  "true, not both"),
    "unverified local file": (_set("tasks.ctcf.peaks", {"path": TINY, "unverified": True}),
                              "tasks.ctcf.peaks.unverified: only for downloads (url or encode), not path"),
    "simulated file the simulation does not write": (
        _set("tasks.prom.annotation", {"simulated": "genes.gff"}),
        "tasks.prom.annotation.simulated: 'genes.gff' is not written by the simulation (one of genome.fa.gz, "
        "genes.gtf.gz, blacklist.bed.gz, truth.tsv, peaks/<TF>.narrowPeak.gz)"),
    "peaks of a factor not simulated": (_set("tasks.ctcf.peaks", {"simulated": "peaks/YY1.narrowPeak.gz"}),
                                        "tasks.ctcf.peaks.simulated: no simulated factor 'YY1' (have: CTCF, REST)"),
    "duplicate factor names": (_set("genome.simulate.tfs.1.name", "CTCF"),
                               "genome.simulate.tfs: duplicate factor names: CTCF"),
    "dev and test overlap": (_set("splits.test", ["chrB"]), "splits: chromosomes in both dev and test: chrB"),
    "dev chromosome not in the genome": (
        _set("splits.dev", ["chr9"]),
        "splits.dev: not chromosomes of the genome: chr9 (genome: chrA, chrB, chrC)"),
    "no chromosome left for train": (_set("splits.dev", ["chrA", "chrB"]), "splits: no chromosome is left for train"),
    "bad exclude regex": (_set("genome.chromosomes.exclude_regex", "chr(["),
                          "genome.chromosomes.exclude_regex: not a valid regular expression: unterminated character "
                          "set at position 4"),
    "hidden not divisible by heads": (_set("pretrain.model.heads", 3),
                                      "pretrain.model.hidden: 32 is not divisible by heads (3)"),
    "scratch model heads": (_set("finetune.scratch_model", {"hidden": 30, "heads": 4}),
                            "finetune.scratch_model.hidden: 30 is not divisible by heads (4)"),
    "pretrained model directory missing": (_set("pretrain.pretrained", "/nonexistent/model"),
                                           "pretrain.pretrained: no model directory with a config.json at "
                                           "/nonexistent/model (nor a Hub id org/name)"),
    "window shorter than a k-mer": (lambda c: c["tasks"]["ctcf"].update(window=5) or c["baselines"].update(
        models=["kmer_lr"]),
                                    "tasks.ctcf.window: task ctcf's 5-bp sequences hold no 6-mer (kmer: 6); use at "
                                    "least 6 bp"),
    "kmer_lr k longer than the sequences": (
        lambda c: c["tasks"]["ctcf"].update(window=6) or c["baselines"].update(models=["kmer_lr"], kmer_lr={"k": [7]}),
        "baselines.kmer_lr.k: 7-mers do not fit task ctcf's 6-bp sequences (tasks.ctcf.window)"),
    "CNN detectors wider than the sequences": (
        _set("baselines.cnn.width", 120),
        "baselines.cnn.width: 120-bp detectors are wider than task prom's 100-bp sequences (tasks.prom.upstream)"),
    "TATA region reversed": (_set("tasks.prom.tata_region", [-10, -40]),
                             "tasks.prom.tata_region: the first position must be before the second, got [-10, -40]"),
    "TATA region outside the promoter": (
        _set("tasks.prom.tata_region", [-80, -60]),
        "tasks.prom.tata_region: [-80, -60] reaches outside the promoter window [-69, 30] (upstream, downstream)"),
    "substitution replaces more than it has": (
        _set("tasks.prom.negatives.substitution", {"ratio": 1, "pieces": 5, "replaced": 6}),
        "tasks.prom.negatives.substitution: replaced (6) exceeds pieces (5)"),
    "corpus pieces longer than possible": (_set("corpus.min_length", 600),
                                           "corpus.min_length: 600 bp exceeds the longest piece, 510 6-mers (515 bp)"),
    "table file of unknown format": (_set("tasks.tab", {"type": "table", "files": [{"path": TINY}]}),
                                     "tasks.tab.files.0: cannot tell the format from the file name: add format: "
                                     "(csv, dnabert_tsv, fasta)"),
    "FASTA table without a label": (_set("tasks.tab", {"type": "table", "files": [{"path": TINY,
                                                                                   "format": "fasta"}]}),
                                    "tasks.tab.files.0: a FASTA file needs label: (all its sequences get it)"),
    "random split leaves no train": (
        _set("tasks.tab", {"type": "table", "files": [{"path": TINY, "format": "csv"}],
                           "random_split": {"dev": 0.5, "test": 0.5}}),
        "tasks.tab.random_split: dev + test must leave room for train, got 0.5 + 0.5"),
}  # fmt: skip

FINETUNE_CASES = {
    "override of an unknown task": (_set("finetune.tasks", {"ctfc": {"lr": 1e-4}}),
                                    "finetune.tasks.ctfc: no such task (tasks: ctcf, prom, splice)"),
    "prediction for an unknown task": (_set("finetune.predict.ctcf_peaks.task", "rest"),
                                       "finetune.predict.ctcf_peaks.task: no such task 'rest' (tasks: ctcf, prom, "
                                       "splice)"),
    "released model missing": (lambda c: c["finetune"].update(init="released", released="/nonexistent/dnabert6"),
                               "finetune.released: not a model directory (no config.json) nor a Hugging Face Hub id "
                               "(org/name): /nonexistent/dnabert6"),
}  # fmt: skip


def _problems(edit: Callable[[dict], None]) -> list[str]:
    from dnabert.config.finetune import finetune_problems

    config = copy.deepcopy(TINY_CONFIG)
    edit(config)
    try:
        validate_config(config, SCHEMA)
    except ConfigError as error:
        return error.problems
    problems = list(finetune_problems(config))  # as workflow/rules/common.smk raises them
    return ConfigError(problems).problems if problems else []


@pytest.mark.parametrize("edit, expected", SCHEMA_CASES.values(), ids=SCHEMA_CASES.keys())
def test_schema_problems(edit, expected):
    assert _problems(edit) == [expected]


@pytest.mark.parametrize("edit, expected", {**SEMANTIC_CASES, **FINETUNE_CASES}.values(),
                         ids={**SEMANTIC_CASES, **FINETUNE_CASES}.keys())  # fmt: skip
def test_semantic_problems(edit, expected):
    assert _problems(edit) == [expected]


def test_the_tiny_config_itself_is_fine():
    assert _problems(lambda config: None) == []


# --------------------------------------------------------------------------- downloads


class _Handler(LocalHTTPHandler):
    """Serves a folder; /truncated/<name> announces the whole file but sends half of it."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "peaks.bed").write_text("chrA\t100\t200\n" * 2000)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: _Handler(*a, directory=str(root), **k))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DOWNLOADS = {
    "404": ("/missing.bed", "sha256", None, "{url}: HTTP 404 File not found"),
    "wrong md5": ("/peaks.bed", "md5", "0" * 32, "{url}: md5 mismatch: expected " + "0" * 32 + ", got {md5}"),
    "wrong sha256": ("/peaks.bed", "sha256", "f" * 64, "{url}: sha256 mismatch: expected " + "f" * 64 + ", got {sha256}"),
    "truncated transfer": ("/truncated/peaks.bed", "sha256", None,
                           "{url}: failed after 1 attempts: {url}: connection closed after 13000 of 26000 bytes"),
}  # fmt: skip


@pytest.mark.parametrize("path, algorithm, digest, expected", DOWNLOADS.values(), ids=DOWNLOADS.keys())
def test_bad_downloads(server, tmp_path, path, algorithm, digest, expected):
    base, root = server
    data = (root / "peaks.bed").read_bytes()
    url = base + path
    dest = tmp_path / "out" / "peaks.bed"
    checksum = Checksum(algorithm, digest or hashlib.new(algorithm, data).hexdigest())
    with pytest.raises(DownloadError) as caught:
        fetch(url, dest, checksum, retries=1, backoff_seconds=0)
    assert str(caught.value) == expected.format(url=url, md5=hashlib.md5(data).hexdigest(),
                                                sha256=hashlib.sha256(data).hexdigest())  # fmt: skip
    assert not dest.exists() and leftovers(tmp_path) == [] and list(dest.parent.iterdir()) == []


def test_download_from_a_closed_port(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/peaks.bed"
    dest = tmp_path / "peaks.bed"
    with pytest.raises(DownloadError) as caught:
        fetch(url, dest, Checksum("md5", "0" * 32), retries=1, backoff_seconds=0)
    assert str(caught.value) == f"{url}: failed after 1 attempts: <urlopen error [Errno 111] Connection refused>"
    assert not dest.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- model directories and VCF

K = 3


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny random 3-mer classifier, saved as fine-tuning saves one."""
    config = BertConfig(vocab_size=kmer.vocab_size(K), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=kmer.PAD_ID,
                        architectures=["BertForSequenceClassification"])  # fmt: skip
    torch.manual_seed(0)
    return save_model(BertForSequenceClassification(config), tmp_path_factory.mktemp("model") / "model", K)


def _edit_json(name: str, **changes) -> Callable[[Path], None]:
    def edit(directory: Path) -> None:
        data = json.loads((directory / name).read_text())
        data.update(changes)
        (directory / name).write_text(json.dumps(data, indent=1))

    return edit


def _truncate(name: str, keep: int = 1000) -> Callable[[Path], None]:
    return lambda directory: (directory / name).write_bytes((directory / name).read_bytes()[:keep])


def _swap_vocab(directory: Path) -> None:
    lines = (directory / "vocab.txt").read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    (directory / "vocab.txt").write_text("\n".join(lines) + "\n")


MODEL_DIRS = {
    "no config.json": (lambda d: (d / "config.json").unlink(),
                       "{d}/config.json: model config not found (expected a DNABERT release or Hugging Face model "
                       "directory)"),
    "config.json not JSON": (lambda d: (d / "config.json").write_text('{"hidden_size": 32,\n "vocab_size": }\n'),
                             "{d}/config.json:2: not valid JSON: Expecting value"),
    "not a BERT": (_edit_json("config.json", model_type="gpt2"),
                   "{d}/config.json: field 'model_type': expected a BERT model, found model_type 'gpt2'"),
    "vocab_size of no k": (_edit_json("config.json", vocab_size=100),
                           "{d}/config.json: field 'vocab_size': vocab_size 100 is not a DNABERT k-mer vocabulary "
                           "(4^k + 5 for k = 3..6)"),
    "a masked LM, not a classifier": (_edit_json("config.json", architectures=["BertForMaskedLM"]),
                                      "{d}/config.json: field 'architectures': not a fine-tuned classifier "
                                      "(architectures lacks BertForSequenceClassification); fine-tune it first"),
    "truncated safetensors": (_truncate("model.safetensors"),
                              "{d}/model.safetensors: not a readable safetensors file (Error while deserializing "
                              "header: invalid header length)"),
    "no weights": (lambda d: (d / "model.safetensors").unlink(),
                   "{d}: no model weights found (looked for model.safetensors, model.safetensors.index.json, "
                   "pytorch_model.bin)"),
    "weights of another size": (_edit_json("config.json", hidden_size=64),
                                "{d}/model.safetensors: weights do not fit config.json: size mismatch for "
                                "bert.embeddings.word_embeddings.weight: copying a param with shape "
                                "torch.Size([69, 32]) from checkpoint, the shape in current model is "
                                "torch.Size([69, 64])."),
    "vocab.txt in another order": (_swap_vocab,
                                   "{d}/vocab.txt: token order differs from DNABERT's; ids would not match the corpus"),
}  # fmt: skip


@pytest.mark.parametrize("edit, expected", MODEL_DIRS.values(), ids=MODEL_DIRS.keys())
def test_bad_model_directories(model_dir, tmp_path, edit, expected):
    broken = tmp_path / "model"
    shutil.copytree(model_dir, broken)
    edit(broken)
    with pytest.raises(InputError) as caught:
        load_classifier(broken, torch.device("cpu"))
    assert str(caught.value) == expected.format(d=broken)


def test_missing_pretrained_model_directory(tmp_path):
    with pytest.raises(InputError) as caught:
        load_pretrained(tmp_path / "nowhere", K)
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: model directory not found (nor a Hugging Face Hub id org/name)"


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("genome")
    plain = root / "genome.fa"
    plain.write_text(">chr1\n" + "ACGTTGCA" * 50 + "\n")
    bgzipped = root / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(bgzipped))
    pysam.faidx(str(bgzipped))
    return bgzipped


HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
# chr1 is ACGTTGCA repeated: position 100 is T, 102 is G.
GOOD = "chr1\t100\trs1\tT\tA\t.\tPASS\t."
VCFS = {
    "header without the VCF columns": ("#chrom\tpos\n" + GOOD + "\n",
                                       "{f}:1: expected a header '#CHROM<TAB>POS<TAB>ID<TAB>REF<TAB>ALT...', got "
                                       "'#chrom\\tpos'"),
    "space-separated line": ("chr1 10 rs1 G A\n", "{f}:1: expected at least 5 tab-separated columns (CHROM POS ID "
                             "REF ALT), got 1 (columns must be separated by tabs)"),
    "fewer columns than the header": (HEADER + "chr1\t100\trs1\tG\tA\n", "{f}:3: expected 8 tab-separated columns "
                                      "(as the #CHROM header), got 5"),
    "POS not a number": (HEADER + "chr1\tten\trs1\tG\tA\t.\tPASS\t.\n",
                         "{f}:3: field 'POS': POS must be an integer, got 'ten'"),
    "POS 0": (HEADER + "chr1\t0\trs1\tG\tA\t.\tPASS\t.\n",
              "{f}:3: field 'POS': POS is 1-based and must be at least 1, got 0"),
    "REF not bases": (HEADER + "chr1\t100\trs1\tX\tA\t.\tPASS\t.\n",
                      "{f}:3: field 'REF': REF must be bases A/C/G/T/N, got 'X'"),
    "ALT not an allele": (HEADER + "chr1\t100\trs1\tT\tA,?\t.\tPASS\t.\n",
                          "{f}:3: field 'ALT': invalid ALT allele '?' (bases A/C/G/T/N, '*', '.', <ID> or a "
                          "breakend)"),
    "empty CHROM": (HEADER + "\t100\trs1\tG\tA\t.\tPASS\t.\n", "{f}:3: field 'CHROM': empty chromosome name"),
    "REF against the genome": (HEADER + GOOD + "\nchr1\t102\trs2\tA\tC\t.\tPASS\t.\n",
                               "{f}:4: field 'REF': REF 'A' does not match the genome: genome.fa.gz has 'G' at "
                               "chr1:102"),
    "chromosome not in the genome": (HEADER + "1\t100\trs1\tT\tA\t.\tPASS\t.\n",
                                     "{f}:3: field 'CHROM': chromosome '1' is not in genome.fa.gz; the genome has "
                                     "'chr1' (chromosome naming differs)"),
    "window past the chromosome end": (HEADER + "chr1\t395\trs1\tG\tA\t.\tPASS\t.\n",
                                       "{f}:3: field 'POS': the 21 bp window of chr1:395 (385-405, centred) runs past "
                                       "chr1 (1-400 in genome.fa.gz)"),
}  # fmt: skip


@pytest.mark.parametrize("text, expected", VCFS.values(), ids=VCFS.keys())
def test_bad_vcf(model_dir, genome, tmp_path, text, expected):
    vcf = tmp_path / "my.vcf"
    vcf.write_text(text)
    out = tmp_path / "out" / "scores.tsv"
    with pytest.raises(InputError) as caught:
        score_vcf_file(model_dir, vcf, genome, out, window=21, on_mismatch="error", device="cpu", progress=False)
    assert str(caught.value) == expected.format(f=vcf)
    assert not out.exists() and leftovers(tmp_path) == []


def test_missing_vcf(model_dir, genome, tmp_path):
    out = tmp_path / "scores.tsv"
    with pytest.raises(InputError) as caught:
        score_vcf_file(model_dir, tmp_path / "none.vcf", genome, out, device="cpu", progress=False)
    assert str(caught.value) == f"{tmp_path / 'none.vcf'}: VCF file not found"
    assert not out.exists()


# --------------------------------------------------------------------------- checkpoints


def _checkpoints(root: Path) -> Path:
    """Checkpoints of steps 1 and 2 of a tiny module (fingerprint "fp"), as training writes them."""
    from dnabert.lm.checkpointing import write_checkpoint

    directory = root / "checkpoints"
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 2)
    for step in (1, 2):
        write_checkpoint(directory, step, {"fingerprint": "fp"}, modules={"model": module},
                         training={"optimizer": {"lr": torch.tensor(0.1)}})  # fmt: skip
    return directory


SKIPPED = ("skipping checkpoint step_00000002: {f} does not read back ({why}); removed it, resuming from an older "
           "one if there is one")  # fmt: skip
CHECKPOINTS = {
    "truncated weights": (lambda d: _truncate("model.safetensors", 100)(d), "model.safetensors",
                          "SafetensorError: Error while deserializing header: invalid header length"),
    "state.json not JSON": (lambda d: (d / "state.json").write_text('{"step": 2,'), "state.json",
                            "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 12 "
                            "(char 11)"),
    "state.json without a step": (lambda d: (d / "state.json").write_text('{"fingerprint": "fp"}'), "state.json",
                                  "KeyError: 'step'"),
    "training states missing": (lambda d: (d / "training.pt").unlink(), "training.pt",
                                "FileNotFoundError: [Errno 2] No such file or directory: '{d}/training.pt'"),
}  # fmt: skip


@pytest.mark.parametrize("edit, name, why", CHECKPOINTS.values(), ids=CHECKPOINTS.keys())
def test_a_bad_newest_checkpoint_is_skipped_for_the_older_one(tmp_path, caplog, edit, name, why):
    from dnabert.lm.checkpointing import find_resumable

    directory = _checkpoints(tmp_path)
    newest = directory / "step_00000002"
    edit(newest)
    with caplog.at_level("WARNING"):
        found = find_resumable(directory, "fp")
    assert found is not None and found.step == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [SKIPPED.format(f=newest / name, why=why.format(d=newest))]
    assert sorted(p.name for p in directory.iterdir()) == ["step_00000001"]  # the bad one removed, nothing else


def test_interrupted_checkpoint_write_is_swept(tmp_path, caplog):
    from dnabert.lm.checkpointing import find_resumable

    directory = _checkpoints(tmp_path)
    leftover = directory / ".step_00000003.abcd1234"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"partial")
    with caplog.at_level("INFO"):
        assert find_resumable(directory, "fp").step == 2
    assert f"removing {leftover}, left by an interrupted write" in [r.getMessage() for r in caplog.records]
    assert sorted(p.name for p in directory.iterdir()) == ["step_00000001", "step_00000002"]


def test_checkpoint_weights_that_do_not_fit_the_model(tmp_path):
    from dnabert.lm.checkpointing import find_resumable, load_weights

    found = find_resumable(_checkpoints(tmp_path), "fp")
    with pytest.raises(InputError) as caught:
        load_weights(torch.nn.Linear(4, 3, bias=False), found.tensors["model"], found.path / "model.safetensors")
    assert str(caught.value) == (f"{found.path / 'model.safetensors'}: checkpoint does not fit the model: size "
                                 "mismatch for weight: copying a param with shape torch.Size([2, 4]) from checkpoint, "
                                 "the shape in current model is torch.Size([3, 4]).")  # fmt: skip


# --------------------------------------------------------------------------- through Snakemake

TINY_TEXT = Path(TINY).read_text()


def _snakemake_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "my.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.workflow
@pytest.mark.parametrize(
    "text, expected",
    [
        (TINY_TEXT + "kmer: 6\nkmer: 5\n",
         "  - {f}:{n}: field 'kmer': duplicate key (first given at line {m}); remove one of them"),
        (TINY_TEXT.replace("kmer_lr: {k: [3, 4]", "kmer_lr: {k: [3, 8]"),
         "  - baselines.kmer_lr.k.1: 8 is greater than the maximum of 7: the tokenizer's k-mer ids are uint16, so k "
         "is at most 7 (4^8 + 5 ids do not fit)"),
    ],
    ids=["duplicate key in --configfile", "kmer_lr.k 8 in --configfile"],
)
def test_a_bad_configfile_stops_snakemake_before_any_job(tmp_path, text, expected):
    config = _snakemake_config(tmp_path, text)
    workdir = tmp_path / "run"
    result = run_snakemake(workdir, "--cores", "1", "--configfile", config, check=False)
    assert result.returncode != 0
    n = len(text.splitlines())
    assert expected.format(f=config, n=n, m=n - 1) in result.stderr.splitlines()
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


@pytest.mark.workflow
def test_a_failed_job_shows_one_line_and_keeps_the_traceback_in_its_log(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    peaks = workdir / "bad.narrowPeak"
    peaks.write_text("chrA\t100\t200\tp1\t0\t.\t5\t-1\t-1\t50\nchrA\t100\tx\tp2\t0\t.\t5\t-1\t-1\t50\n")
    config = _snakemake_config(tmp_path, TINY_TEXT.replace("peaks: {simulated: peaks/CTCF.narrowPeak.gz}",
                                                           f"peaks: {{path: {peaks}}}"))  # fmt: skip
    target = "results/datasets/ctcf/train.tsv.gz"
    result = run_snakemake(workdir, "--cores", "1", target, "--configfile", config, check=False)
    assert result.returncode != 0
    terminal = result.stdout + result.stderr
    message = f"{peaks}:2: field 'end': not an integer: 'x'"
    assert terminal.count(message) == 1 and "Traceback" not in terminal
    assert "Error in rule task_dataset:" in terminal and "logs/task_dataset/ctcf.log" in terminal
    log = (workdir / "logs" / "task_dataset" / "ctcf.log").read_text()
    assert "Traceback (most recent call last)" in log and log.rstrip().endswith(message)
    assert not (workdir / "results" / "datasets" / "ctcf").exists() or not any(
        (workdir / "results" / "datasets" / "ctcf").iterdir())
    assert leftovers(workdir) == []
