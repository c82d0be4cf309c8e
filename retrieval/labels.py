"""Parsing a labels CSV: which photo (by file name) gets which category, sub-category, caption.

The header names the columns; ``file`` is required (``filename``, ``name`` and ``path`` are
accepted too), ``category``, ``subcategory`` and ``caption`` (or ``title``) are optional, and
other columns are ignored, so a library's manifest can be used as it is.
"""

from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass

MAX_ROWS = 100_000
MAX_FIELD = {"category": 120, "subcategory": 120, "caption": 300}
_ALIASES = {
    "file": ("file", "filename", "name", "path"),
    "category": ("category",),
    "subcategory": ("subcategory", "sub_category", "sub-category"),
    "caption": ("caption", "title"),
}


class LabelsRejected(ValueError):
    """The CSV as a whole is unusable; the message is safe to show."""


@dataclass(frozen=True)
class LabelRow:
    file: str
    # None: the column is absent, so the stored value is left alone.
    category: str | None = None
    subcategory: str | None = None
    caption: str | None = None

    def values(self) -> dict[str, str]:
        fields = {
            "category": self.category,
            "subcategory": self.subcategory,
            "caption": self.caption,
        }
        return {k: v for k, v in fields.items() if v is not None}


def match_key(name: str) -> str:
    """How a CSV ``file`` cell and a stored original name are compared: the base name."""
    return posixpath.basename(name.replace("\\", "/")).strip().lower()


def parse_labels_csv(data: bytes | str) -> tuple[dict[str, LabelRow], list[str]]:
    """Return ``{match_key(file): row}`` and a list of per-line problems (skipped lines)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise LabelsRejected("The labels file must be UTF-8 text (CSV).") from None
    else:
        text = data
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    columns = {}
    for field, aliases in _ALIASES.items():
        found = next((header[a] for a in aliases if a in header), None)
        if found is not None:
            columns[field] = found
    if "file" not in columns:
        raise LabelsRejected("The labels CSV needs a header row with a 'file' column.")
    if len(columns) == 1:
        raise LabelsRejected(
            "The labels CSV needs a 'category', 'subcategory' or 'caption' column."
        )
    rows: dict[str, LabelRow] = {}
    problems: list[str] = []
    try:
        for line_no, record in enumerate(reader, start=2):
            if line_no - 1 > MAX_ROWS:
                problems.append(f"Only the first {MAX_ROWS:,} rows were read.")
                break
            name = (record.get(columns["file"]) or "").strip()
            if not name:
                problems.append(f"Line {line_no}: no file name.")
                continue
            values: dict[str, str | None] = {}
            for field in ("category", "subcategory", "caption"):
                if field in columns:
                    values[field] = (record.get(columns[field]) or "").strip()[: MAX_FIELD[field]]
            rows[match_key(name)] = LabelRow(file=name, **values)
    except csv.Error as exc:
        problems.append(f"The CSV could not be read past line {reader.line_num}: {exc}.")
    return rows, problems
