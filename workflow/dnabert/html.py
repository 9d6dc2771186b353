"""Self-contained HTML pages: tables a reader needs, rendered from the templates in ``dnabert/templates``.

Snakemake's report shows ``.html`` results in a frame, so every table a stage puts in
the report is a page of its own. This module is the one place that turns data into
HTML, for every stage:

* Table cells: :func:`parse_number` (a TSV cell as a number), :func:`fmt` (a number
  as a table shows it), :func:`read_tsv`.
* :class:`Table` and its builders :func:`table` (rows of values), :func:`cells_table`
  and :func:`tsv_table` (text cells, numbers recognised): what the ``table`` macro of
  ``templates/table.html.j2`` draws.
* :func:`render` a template (Jinja2, autoescaped, so every value is escaped) and
  :func:`write_page` it atomically. ``templates/page.html.j2`` is the one layout
  (inline style, no scripts); ``templates/tsv.html.j2`` is a page of one table.

Nothing here writes a timestamp, so the same data gives the same files.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
import numpy as np

from dnabert.io import InputError, PathLike, atomic_path

# --------------------------------------------------------------------------- cells


def parse_number(text: str | None) -> float | None:
    """A table cell as a finite float; ``None`` for blanks, words, NA and infinities."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: ``digits`` decimals for floats (scientific if smaller), thousands separators for ints."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:  # p- and q-values: 1.50e-05, not 0.000
            return f"{value:.2e}"
        return f"{value:,.{digits}f}"
    return str(value)


def read_tsv(path: PathLike, delimiter: str = "\t") -> list[dict[str, str]]:
    """The rows of a TSV (or, with ``delimiter=","``, CSV) file with a header, as column -> text."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Cell:
    """One formatted cell: its text (escaped when rendered), right-aligned if ``numeric``, bold or not."""

    text: str
    numeric: bool = False
    bold: bool = False


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    css: str = ""


@dataclass(frozen=True)
class Table:
    """What the ``table`` macro draws: a header, rows of cells, an optional caption."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    caption: str | None = None


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
    digits: int | Sequence[int] = 3,
    row_classes: Sequence[str] | None = None,
    bold: Iterable[tuple[int, int]] = (),
) -> Table:
    """A :class:`Table` of values, formatted with :func:`fmt`; numeric columns are right-aligned.

    ``numeric`` defaults to the columns whose values are all numbers (or ``None``);
    ``digits`` is one number of decimals or one per column; ``row_classes`` is a CSS
    class per row (blank for none); ``bold`` holds (row, column) cells.
    """
    rows = [list(row) for row in rows]
    if numeric is None:
        numeric = [bool(rows) and all(isinstance(row[i], (int, float)) or row[i] is None for row in rows)
                   for i in range(len(columns))]  # fmt: skip
    places = [digits] * len(columns) if isinstance(digits, int) else list(digits)
    strong = set(bold)
    body = [
        Row([Cell(fmt(value, places[j]), bool(numeric[j]), (i, j) in strong) for j, value in enumerate(row)],
            (row_classes[i] or "") if row_classes else "")  # fmt: skip
        for i, row in enumerate(rows)
    ]
    return Table([str(column) for column in columns], body, caption)


def cells_table(rows: Sequence[Sequence[str]], *, source: PathLike | None = None,
                caption: str | None = None) -> Table:  # fmt: skip
    """A :class:`Table` of text cells, header row first: integers and floats are recognised and right-aligned.

    A column is numeric when every cell of it is a number or blank. ``source`` names
    the file in the error for an empty table.
    """
    if not rows:
        raise InputError(source, "empty table")
    header, body = rows[0], rows[1:]

    def value(text: str) -> Any:
        number = parse_number(text)
        if number is None:
            return text
        return int(number) if re.fullmatch(r"-?\d+", text.strip()) else number

    values = [[value(cell) for cell in row] for row in body]
    numeric = [bool(values) and all(isinstance(row[i], (int, float)) or row[i] in ("", None)
                                    for row in values if i < len(row)) for i in range(len(header))]  # fmt: skip
    return table(header, values, numeric=numeric, caption=caption)


def tsv_table(path: PathLike, *, caption: str | None = None) -> Table:
    """A TSV file (header row first) as a :class:`Table` (see :func:`cells_table`)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return cells_table(rows, source=path, caption=caption)


# --------------------------------------------------------------------------- pages


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment over ``dnabert/templates`` (installed with the package); autoescape on."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dnabert", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """The text of ``template`` (a path under ``dnabert/templates``) rendered with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(path: PathLike, template: str, **context: Any) -> None:
    """Write :func:`render` of ``template`` to ``path`` as UTF-8, atomically."""
    text = render(template, **context)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
