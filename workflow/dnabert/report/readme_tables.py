"""The README's result tables, written from a run's ``results/`` so they cannot drift from what a run gives.

The README marks each generated table with a pair of HTML comments::

    <!-- results:benchmarks -->
    ...the table...
    <!-- /results:benchmarks -->

``python -m dnabert.report.readme_tables`` (``make readme-tables``) rewrites every
marked block from the run in the current folder (the demo): ``benchmarks`` (test MCC and
AUROC of every model per task, mean ± sd over seeds, from ``results/benchmarks/summary.tsv``,
with the published figures beside ours where there are any), ``recovery`` (the planted-motif
check, from ``results/interpret/recovery.tsv``), ``corpus_overlap`` (each split's bases in the
pretraining corpus, from ``results/datasets/*/qc/corpus_overlap.tsv``) and ``learning_curves``
(from ``results/learning_curve/summary.tsv``). A block of another config's run is tagged with
its name, ``<!-- results:benchmarks@hg38_pieces -->``, and rewritten only by
``--run hg38_pieces --results <that run's results>``. ``--check`` only compares and exits 1
when the README differs from the run.

Trained models' bits depend on the kernels a machine runs and the precision it trains in
(:func:`run_platform`, from the fine-tuning runs' ``metrics.json``), so a block can carry them,
``<!-- results:benchmarks [cpu AuthenticAMD AVX2, fp32] -->``: it is rewritten only from a run
on that platform, and a run on a platform the README has no block for adds one after the
last block of that table (``--check`` fails until it is there).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from dnabert.io import InputError, PathLike, write_text_atomic
from dnabert.metrics import format_mean_sd

MODEL_ORDER = ("dnabert", "dnabert_released", "bert_scratch", "kmer_lr", "cnn")
BLOCK = re.compile(r"(<!-- results:(?P<name>[a-z_]+)(?:@(?P<run>[a-z0-9_]+))?(?: \[(?P<platform>[^\]\n]+)\])? -->\n)"
                   r"(?P<body>.*?)(?P<end><!-- /results:(?P=name)(?(run)@(?P=run))(?(platform) \[(?P=platform)\]) -->)", re.S)
RUN_METRICS = ("finetune/*/seed*/metrics.json", "baselines/*/bert_scratch/seed*/metrics.json")


def _read_tsv(path: PathLike) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "missing: run the workflow first (make demo)")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def _cell(row: Mapping[str, str] | None, metric: str) -> str:
    if row is None:
        return "–"
    text = format_mean_sd(_number(row[f"{metric}_mean"]), _number(row[f"{metric}_sd"]))
    dead = int(row.get("collapsed") or 0)
    return f"{text} ({dead} of {row['runs']} collapsed)" if dead else text


def _split_sizes(results: Path, task: str) -> str:
    """``train / dev / test`` sequence counts from the dataset QC, or '' where it is absent."""
    path = results / "datasets" / task / "qc" / "summary.json"
    if not path.is_file():
        return ""
    rows = json.loads(path.read_text())["rows"]
    return " / ".join(f"{rows[split]:,}" for split in ("train", "dev", "test"))


def _published_cell(figures: list[Mapping[str, str]], ours: Mapping[str, Mapping[str, str]]) -> str:
    """Each published figure, then our models' value of the same metric (means over seeds)."""
    cells = []
    for figure in figures:
        metric = next(m for m in ("mcc", "accuracy") if figure.get(f"{m}_mean"))
        mine = ", ".join(f"{model} {float(row[f'{metric}_mean']):.3f}" for model, row in ours.items()
                         if row.get(f"{metric}_mean"))  # fmt: skip
        cells.append(f"{figure['model']} {metric} {float(figure[f'{metric}_mean']):.3f}; ours: {mine}")
    return "; ".join(cells) or "–"


def benchmarks_table(results: Path) -> str:
    """Markdown: one row per task, test MCC and AUROC of every model (mean ± sd over seeds).

    The task's split sizes follow its name where the dataset QC is there; with published
    figures (rows with a ``source``) a last column puts each beside ours on the same metric.
    """
    every = _read_tsv(results / "benchmarks" / "summary.tsv")
    rows = [row for row in every if not row.get("source")]
    published = [row for row in every if row.get("source")]
    models = sorted({row["model"] for row in rows}, key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else 99, m))
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    lookup = {(row["task"], row["model"]): row for row in rows}
    head = ["task", *(f"{model} {metric}" for model in models for metric in ("MCC", "AUROC"))]
    if published:
        head.append("published (full test set)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task in tasks:
        sizes = _split_sizes(results, task)
        cells = [f"{task} ({sizes})" if sizes else task]
        for model in models:
            row = lookup.get((task, model))
            cells += [_cell(row, "mcc"), _cell(row, "auroc")]
        if published:
            ours = {model: lookup[(task, model)] for model in models if (task, model) in lookup}
            cells.append(_published_cell([row for row in published if row["task"] == task], ours))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def recovery_table(results: Path) -> str:
    """Markdown: one row per planted motif x seed, each engine's verdict, best q-value and motif count."""
    rows = _read_tsv(results / "interpret" / "recovery.tsv")
    if not rows:
        return "(no planted motifs)\n"
    engines = list(dict.fromkeys(row["engine"] for row in rows))
    verdicts: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        key = (f"{row['task']} ({row['name']} {row['jaspar_id']})", row["seed"])
        q = _number(row["best_qvalue"])
        found = "yes" if row["recovered"] in ("True", "true", "1") else "**no**"
        verdicts.setdefault(key, {})[row["engine"]] = f"{found}, {'–' if q is None else f'{q:.2g}'} ({row['motifs']})"
    header = ["task (planted motif)", "seed", *(f"{engine}: recovered, best q (motifs)" for engine in engines)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([task, seed, *(cells.get(e, "–") for e in engines)]) + " |"
              for (task, seed), cells in verdicts.items()]  # fmt: skip
    return "\n".join(lines) + "\n"


def corpus_overlap_table(results: Path) -> str:
    """Markdown: per task with coordinates and split, its bases inside the pretraining corpus pieces."""
    lines = ["| task | split | rows | with coordinates | bases | bases in corpus pieces | rows overlapping |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in sorted((results / "datasets").glob("*/qc/corpus_overlap.tsv")):
        task = path.parent.parent.name
        for row in _read_tsv(path):
            if int(row["rows_with_coordinates"]) == 0:
                continue
            numbers = (f"{int(row[key]):,}" for key in ("rows", "rows_with_coordinates", "interval_bases", "overlap_bp",
                                                        "rows_overlapping"))  # fmt: skip
            lines.append("| " + " | ".join([task, row["split"], *numbers]) + " |")
    return "\n".join(lines) + "\n"


def learning_curves_table(results: Path) -> str:
    """Markdown: test MCC per task, training fraction and model (mean ± sd over seeds)."""
    rows = _read_tsv(results / "learning_curve" / "summary.tsv")
    models = sorted({row["model"] for row in rows}, key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else 99, m))
    points = list(dict.fromkeys((row["task"], row["fraction"], row["train_sequences"]) for row in rows))
    points.sort(key=lambda point: (point[0], float(point[1])))
    lookup = {(row["task"], row["fraction"], row["model"]): row for row in rows}
    head = ["task", "fraction", "training sequences", *(f"{model} MCC" for model in models)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task, fraction, sequences in points:
        cells = [task, f"{float(fraction):g}", f"{int(sequences):,}"]
        cells += [_cell(lookup.get((task, fraction, model)), "mcc") for model in models]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TABLES: dict[str, Callable[[Path], str]] = {"benchmarks": benchmarks_table, "recovery": recovery_table,
                                            "corpus_overlap": corpus_overlap_table,
                                            "learning_curves": learning_curves_table}  # fmt: skip


def run_platform(results: Path) -> str | None:
    """The kernels and training precision of a run's fine-tuned models, ``cpu AuthenticAMD AVX2, fp32``.

    Several (a run spread over unlike machines) are joined with `` + ``; ``None`` when no run
    records its kernels (fine-tuning written before they were recorded).
    """
    found = set()
    for pattern in RUN_METRICS:
        for path in sorted(results.glob(pattern)):
            training = json.loads(path.read_text()).get("training", {})
            if "kernels" in training:
                found.add(f"{training['kernels']}, {training['precision']}")
    return " + ".join(sorted(found)) or None


def _marker(name: str, run: str | None, platform: str | None, closing: bool = False) -> str:
    tag = (f"@{run}" if run else "") + (f" [{platform}]" if platform else "")
    return f"<!-- {'/' if closing else ''}results:{name}{tag} -->"


def render(readme: str, results: Path, names: Sequence[str] | None = None, run: str | None = None) -> str:
    """``readme`` with every marked block of ``run`` (untagged: the demo), or only ``names``, rewritten from ``results``.

    Blocks tagged with a platform are rewritten only from a run on that platform; a table whose
    blocks are all tagged with other platforms gets a new block for this run's after its last one.
    """
    wanted = [name for name in TABLES if not names or name in names]
    tagged = [m for m in BLOCK.finditer(readme)
              if m.group("name") in wanted and m.group("run") == run and m.group("platform")]  # fmt: skip
    platform = run_platform(results) if tagged else None
    if tagged and platform is None:
        raise InputError(results, "no fine-tuning metrics.json records its kernels and precision (a run made before "
                                  "they were recorded, or none): rerun the workflow")  # fmt: skip
    add_after = {max(m.end() for m in tagged if m.group("name") == name): name
                 for name in {m.group("name") for m in tagged}
                 if not any(m.group("name") == name and m.group("platform") == platform for m in tagged)}  # fmt: skip

    def replace(match: re.Match) -> str:
        name, text = match.group("name"), match.group(0)
        if name in wanted and match.group("run") == run and match.group("platform") in (None, platform):
            text = match.group(1) + TABLES[name](results) + match.group("end")
        if match.end() in add_after:
            text += (f"\n\nOn {platform}:\n\n{_marker(name, run, platform)}\n"
                     f"{TABLES[name](results)}{_marker(name, run, platform, closing=True)}")  # fmt: skip
        return text

    return BLOCK.sub(replace, readme)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnabert.report.readme_tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="a finished run's results folder")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--run", help="rewrite the blocks tagged @RUN (another config's run) instead of the demo's")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if the README differs")
    args = parser.parse_args(argv)
    old = args.readme.read_text()
    try:
        new = render(old, args.results, run=args.run)
    except InputError as err:
        print(f"readme_tables: {err}", file=sys.stderr)
        return 2
    if args.check:
        if new != old:
            platform = run_platform(args.results)
            on = f" (a run on {platform})" if platform else ""
            print(f"{args.readme} differs from {args.results}{on}: run make readme-tables", file=sys.stderr)
            return 1
        return 0
    if new != old:
        write_text_atomic(args.readme, new)
        print(f"updated {args.readme} from {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
