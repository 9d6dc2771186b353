"""k-mer tokenizer: DNABERT vocab and ids, policies, k-mer strings, Hugging Face round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pysam
import pytest
import transformers

from conftest import shared_file
from dnabert.lm import kmer
from dnabert.io import InputError

KS = (3, 4, 5, 6)
MAX_BP = {k: kmer.MAX_KMERS + k - 1 for k in KS}


def released_vocab(k: int) -> Path:
    return shared_file(f"dnabert/vocab/{k}/vocab.txt")


@lru_cache(maxsize=None)
def _bert(vocab_path: str) -> transformers.PreTrainedTokenizerBase:
    return transformers.BertTokenizer(vocab_path, do_lower_case=False)


def bert_ids(vocab_path: Path, kmer_strings: list[str]) -> list[list[int]]:
    """DNABERT's approach: space-separated k-mers through BertTokenizer, with [CLS]/[SEP]."""
    return _bert(str(vocab_path))(kmer_strings)["input_ids"]


@pytest.fixture(params=["released", "generated"])
def vocab_file(request, tmp_path_factory):
    """Per k: DNABERT's released vocab.txt (skips without shared data) or ours written to disk."""

    def get(k: int) -> Path:
        if request.param == "released":
            return released_vocab(k)
        path = tmp_path_factory.mktemp(f"vocab{k}") / "vocab.txt"
        kmer.write_vocab(path, k)
        return path

    return get


def random_dna(rng: np.random.Generator, n: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(list(alphabet), size=n))


def rows(batch: kmer.Batch) -> list[list[int]]:
    """Unpadded rows of a batch as lists."""
    return [row[mask.astype(bool)].tolist() for row, mask in zip(batch.input_ids, batch.attention_mask)]


# --------------------------------------------------------------------------- vocabulary


@pytest.mark.realdata
@pytest.mark.parametrize("k", KS)
def test_vocab_equals_released_file(k):
    assert kmer.vocab(k) == released_vocab(k).read_text().splitlines()
    assert kmer.read_vocab(released_vocab(k)) == (k, kmer.vocab(k))
    assert kmer.vocab_size(k) == 4**k + 5


def test_vocab_order_and_specials():
    tokens = kmer.vocab(3)
    assert tokens[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "AAA", "AAT"]
    assert tokens[-1] == "GGG" and len(tokens) == 69
    with pytest.raises(ValueError, match="k must be"):
        kmer.vocab(0)


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("[PAD]\n[CLS]\n", 2, "expected special token"),
        ("\n".join(kmer.SPECIAL_TOKENS + ("AAA", "AAN")), 7, "3-mer over ACGT"),
        ("\n".join(kmer.SPECIAL_TOKENS + ("AA", "AA")), 7, "duplicate"),
    ],
)
def test_read_vocab_reports_bad_lines(tmp_path, text, line, message):
    path = tmp_path / "vocab.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        kmer.read_vocab(path)
    assert err.value.line == line and str(path) in str(err.value)


# --------------------------------------------------------------------------- ids = BertTokenizer


@pytest.mark.parametrize("k", KS)
def test_random_sequences_match_bert_tokenizer(vocab_file, k):
    rng = np.random.default_rng(k)
    seqs = [random_dna(rng, int(n)) for n in rng.integers(0, MAX_BP[k] + 1, size=60)]
    seqs += [random_dna(rng, int(n), "ACGTACGTACGTNRY") for n in rng.integers(0, MAX_BP[k] + 1, size=60)]
    seqs += ["", "A" * (k - 1), "N" * k, "ACGT"[: k % 4] + "N" + "ACGTACG"]
    expected = bert_ids(vocab_file(k), [kmer.seq2kmer(s, k) for s in seqs])
    assert rows(kmer.encode_batch(seqs, k)) == expected
    assert [kmer.encode(s, k).tolist() for s in seqs[:20]] == expected[:20]


@pytest.mark.realdata
@pytest.mark.parametrize("k", KS)
def test_hg38_windows_match_bert_tokenizer(k):
    path = shared_file("hg38/chr2_1-2333275.fa.gz")
    rng = np.random.default_rng(100 + k)
    with pysam.FastaFile(str(path)) as fasta:
        length = fasta.get_reference_length("chr2")
        starts = [0, 9_900, 9_990, length - MAX_BP[k], *rng.integers(10_000, length - MAX_BP[k], size=40).tolist()]
        windows = [fasta.fetch("chr2", s, s + MAX_BP[k]) for s in starts]
    assert set(windows[0]) == {"N"} and any(c.islower() for c in "".join(windows))
    # DNABERT's data were upper case; our tokenizer takes the soft-masked sequence as is.
    expected = bert_ids(released_vocab(k), [kmer.seq2kmer(w.upper(), k) for w in windows])
    batch = kmer.encode_batch(windows, k)
    assert batch.input_ids.shape == (len(windows), kmer.MAX_TOKENS)
    assert rows(batch) == expected
    assert set(expected[0][1:-1]) == {kmer.UNK_ID}


@pytest.mark.realdata
def test_ft6_dev_reconstructs_and_retokenizes():
    path = shared_file("dnabert/sample/ft6_dev.tsv")
    with open(path, newline="") as handle:
        lines = handle.read().split("\r\n")
    assert lines[0] == "sequence\tlabel"
    records = [line.split("\t") for line in lines[1:] if line]
    assert len(records) == 1000 and {label for _, label in records} == {"0", "1"}
    kmer_strings = [kmers for kmers, _ in records]
    seqs = [kmer.kmer2seq(kmers) for kmers in kmer_strings]
    assert {len(s) for s in seqs} == {101}
    assert [kmer.seq2kmer(s, 6) for s in seqs] == kmer_strings
    batch = kmer.encode_batch(seqs, 6)
    assert rows(batch) == bert_ids(released_vocab(6), kmer_strings)
    assert [kmer.ids_to_seq(r, 6) for r in batch.input_ids[:50]] == seqs[:50]


def test_lower_case_gives_same_ids():
    rng = np.random.default_rng(0)
    seqs = [random_dna(rng, 300, "ACGTN") for _ in range(10)]
    upper = kmer.encode_batch(seqs, 6).input_ids
    lower = kmer.encode_batch([s.lower() for s in seqs], 6).input_ids
    mixed = kmer.encode_batch([s[:150].lower() + s[150:] for s in seqs], 6).input_ids
    assert (upper == lower).all() and (upper == mixed).all()


def test_non_acgt_kmers_become_unk():
    ids = kmer.kmer_ids("ACGTNACGTA-CGTé", 3)
    expected = [
        kmer.vocab(3).index(w) if set(w) <= set("ACGT") else kmer.UNK_ID
        for w in kmer.seq2kmer("ACGTNACGTA-CGT?", 3).split()
    ]
    assert ids.tolist() == expected
    assert kmer.kmer_ids("AC", 3).size == 0


# --------------------------------------------------------------------------- long input policies


def test_overflow_error_names_the_sequence():
    seqs = ["ACGT" * 10, "A" * (MAX_BP[6] + 1)]
    with pytest.raises(kmer.SequenceTooLongError, match=r"sequence 1 has 511 6-mers .*truncate.*split"):
        kmer.encode_batch(seqs, 6)
    with pytest.raises(kmer.SequenceTooLongError):
        kmer.encode(seqs[1], 6)
    assert kmer.encode_batch(["A" * MAX_BP[6]], 6).input_ids.shape == (1, 512)


def test_overflow_truncate_keeps_first_kmers():
    rng = np.random.default_rng(1)
    seq = random_dna(rng, 2000)
    batch = kmer.encode_batch([seq, "ACGTAC"], 6, overflow="truncate")
    assert batch.input_ids.shape == (2, 512)
    assert batch.input_ids[0].tolist() == kmer.encode(seq[: MAX_BP[6]], 6).tolist()
    assert kmer.encode(seq, 6, overflow="truncate").tolist() == batch.input_ids[0].tolist()
    assert batch.sequence_index.tolist() == [0, 1]


@pytest.mark.parametrize("k", KS)
def test_overflow_split_gives_consecutive_pieces(k):
    rng = np.random.default_rng(k)
    seqs = [random_dna(rng, 1500, "ACGTN"), "ACG", random_dna(rng, MAX_BP[k]), random_dna(rng, MAX_BP[k] + 1)]
    batch = kmer.encode_batch(seqs, k, overflow="split")
    assert batch.input_ids.shape[1] == 512
    assert batch.sequence_index.tolist() == [0, 0, 0, 1, 2, 3, 3]
    for i, seq in enumerate(seqs):
        pieces = [r for r, owner in zip(rows(batch), batch.sequence_index) if owner == i]
        assert all(p[0] == kmer.CLS_ID and p[-1] == kmer.SEP_ID and len(p) <= 512 for p in pieces)
        assert sum((p[1:-1] for p in pieces), []) == kmer.kmer_ids(seq, k).tolist()
        assert [p.tolist() for p in kmer.encode_pieces(seq, k)] == pieces
    # piece j is the window of bases [510 j, 510 (j + 1) + k - 1): neighbours overlap by k - 1 bases
    clean = random_dna(rng, 1500)
    pieces = kmer.encode_pieces(clean, k)
    assert [kmer.ids_to_seq(p, k) for p in pieces] == [clean[j : j + MAX_BP[k]] for j in (0, 510, 1020)]


def test_split_with_small_max_kmers():
    seq = "ACGTACGTACGTAC"  # 12 3-mers
    batch = kmer.encode_batch([seq], 3, overflow="split", max_kmers=5)
    assert [len(r) - 2 for r in rows(batch)] == [5, 5, 2]
    assert [kmer.ids_to_seq(r, 3) for r in rows(batch)] == ["ACGTACG", "CGTACGT", "GTAC"]


def test_bad_policy_and_encode_split_are_rejected():
    with pytest.raises(ValueError, match="overflow must be one of"):
        kmer.encode_batch(["ACGT"], 3, overflow="wrap")
    with pytest.raises(ValueError, match="encode_pieces"):
        kmer.encode("ACGT", 3, overflow="split")


# --------------------------------------------------------------------------- batch padding


def test_dynamic_and_fixed_padding():
    seqs = ["ACGTACGT", "ACG", "", "ACGTNACGTACGT"]
    batch = kmer.encode_batch(seqs, 3)
    assert batch.input_ids.shape == (4, 13) and batch.input_ids.dtype == np.int64
    assert batch.attention_mask.sum(axis=1).tolist() == [8, 3, 2, 13]
    assert (batch.input_ids[batch.attention_mask == 0] == kmer.PAD_ID).all()
    assert batch.input_ids[2, :3].tolist() == [kmer.CLS_ID, kmer.SEP_ID, kmer.PAD_ID]
    fixed = kmer.encode_batch(seqs, 3, pad_to=512, dtype=np.int32)
    assert fixed.input_ids.shape == (4, 512) and fixed.input_ids.dtype == np.int32
    assert (fixed.input_ids[:, :13] == batch.input_ids).all() and (fixed.input_ids[:, 13:] == kmer.PAD_ID).all()
    with pytest.raises(ValueError, match="pad_to=5"):
        kmer.encode_batch(seqs, 3, pad_to=5)
    assert kmer.encode_batch([], 3).input_ids.shape == (0, 2)
    assert set(kmer.KmerTokenizer(3)(seqs).as_dict()) == {"input_ids", "attention_mask"}


# --------------------------------------------------------------------------- k-mer strings


def dnabert_seq2kmer(seq: str, k: int) -> str:
    """DNABERT's motif_utils.seq2kmer, verbatim in behaviour."""
    kmer_list = [seq[x : x + k] for x in range(len(seq) + 1 - k)]
    return " ".join(kmer_list)


@pytest.mark.parametrize("k", KS)
def test_seq2kmer_and_kmer2seq_match_dnabert(k):
    rng = np.random.default_rng(k)
    for n in (0, k - 1, k, 37, 515):
        seq = random_dna(rng, n, "ACGTacgtN")
        assert kmer.seq2kmer(seq, k) == dnabert_seq2kmer(seq, k)
        if n >= k:
            assert kmer.kmer2seq(kmer.seq2kmer(seq, k)) == seq
            assert kmer.kmer2seq(kmer.seq2kmer(seq, k).split()) == seq
    clean = random_dna(rng, 200)
    assert kmer.ids_to_seq(kmer.encode(clean, k), k) == clean


def test_kmer2seq_rejects_inconsistent_kmers():
    with pytest.raises(ValueError, match=r"k-mer 3 'TTA' does not overlap k-mer 2 'CGT'"):
        kmer.kmer2seq("ACG CGT TTA")
    with pytest.raises(ValueError, match=r"k-mer 2 'CGTA' has length 4"):
        kmer.kmer2seq("ACG CGTA")
    assert kmer.kmer2seq("") == ""


def test_ids_to_seq_rejects_unk_and_gaps():
    with pytest.raises(ValueError, match="not a 3-mer"):
        kmer.ids_to_seq(kmer.encode("ACGNA", 3), 3)
    ids = kmer.kmer_ids("ACGTT", 3)
    with pytest.raises(ValueError, match="does not overlap"):
        kmer.ids_to_seq(ids[[0, 2]], 3)


# --------------------------------------------------------------------------- Hugging Face


def _model_dir(tmp_path: Path, k: int, vocab_file: Path | None = None) -> Path:
    model_dir = tmp_path / f"model{k}"
    transformers.BertConfig(vocab_size=kmer.vocab_size(k), num_hidden_layers=1).save_pretrained(model_dir)
    kmer.save_hf_tokenizer(model_dir, k, vocab_file=vocab_file)
    return model_dir


@pytest.mark.parametrize("k", KS)
def test_hf_tokenizer_round_trip(tmp_path, k):
    model_dir = _model_dir(tmp_path, k)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast" and config["model_max_length"] == 512
    assert (model_dir / "vocab.txt").read_text().splitlines() == kmer.vocab(k)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    rng = np.random.default_rng(k)
    seqs = [random_dna(rng, int(n), "ACGTacgtNR") for n in rng.integers(0, MAX_BP[k] + 1, size=12)]
    seqs += ["", "ACG", "N" * (k + 2), "acgt" * 10]
    assert tokenizer(seqs)["input_ids"] == [kmer.encode(s, k).tolist() for s in seqs]
    padded = tokenizer(seqs, padding=True, return_tensors="np")
    ours = kmer.encode_batch(seqs, k)
    assert (padded["input_ids"] == ours.input_ids).all() and (padded["attention_mask"] == ours.attention_mask).all()
    long = random_dna(rng, 1300, "ACGTN")
    assert tokenizer(long, truncation=True)["input_ids"] == kmer.encode(long, k, overflow="truncate").tolist()
    split = tokenizer(long, truncation=True, return_overflowing_tokens=True)["input_ids"]
    assert split == [p.tolist() for p in kmer.encode_pieces(long, k)]
    assert tokenizer.convert_ids_to_tokens(kmer.encode("ACGTAC", k).tolist())[1] == "ACGTAC"[:k]
    assert tokenizer.mask_token_id == kmer.MASK_ID and tokenizer.pad_token_id == kmer.PAD_ID


@pytest.mark.realdata
def test_hf_tokenizer_from_released_vocab(tmp_path):
    model_dir = _model_dir(tmp_path, 6, vocab_file=released_vocab(6))
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.get_vocab() == {t: i for i, t in enumerate(kmer.vocab(6))}
    seq = "NNACGTTAGCCATacgtaGGCTAN"
    assert tokenizer(seq)["input_ids"] == kmer.encode(seq, 6).tolist()
    with pytest.raises(InputError, match="holds 6-mers"):
        kmer.build_hf_tokenizer(5, vocab_file=released_vocab(6))


def test_hf_tokenizer_loads_without_this_package(tmp_path):
    """Plain AutoTokenizer in a fresh interpreter that never imports dnabert."""
    model_dir = _model_dir(tmp_path, 6)
    seq = "ACGTTAGCCATacgtaGGCTANNACGTAGT"
    code = (
        "import json, sys; from transformers import AutoTokenizer; "
        f"t = AutoTokenizer.from_pretrained({str(model_dir)!r}); "
        "assert not any(m.startswith('dnabert') for m in sys.modules); "
        f"print(json.dumps(t({seq!r})['input_ids']))"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == kmer.encode(seq, 6).tolist()
