"""Words, vocabulary, the reference split and context windows.

A words file is one item per line, or a table (.csv, .tsv, or any file with --column) of which one column is
read. Whatever cannot be read is one DataError line naming the file; whatever reading changed is said in a note.

Everything the model sees is built here, once, so training, evaluation and the
tests agree on what a "window" and a "split" are.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

from app.engine.artifact import BOUNDARY

SPLIT_SEED = 42  # the lectures' seed, so losses compare with theirs
# Relative to the repository root, where the commands are run: the data lives beside the repo, never in it.
DEFAULT_DATA = Path("../shared/data/names.txt")


class DataError(ValueError):
    """A words file that cannot be used, said in one line that names it."""


MAX_FILE_BYTES = 256 * 2**20  # far beyond any list of names; the context windows of more would not fit here
MAX_ITEM_CHARS = 256  # a longer "item" is a file that is not one item per line (or a column that is not names)
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
SNIFFED_ROWS = 1000  # rows looked at to find a table's delimiter and header


def shown(path: Path) -> str:
    """The path as messages print it: quoted when it holds a character that would break the line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (a leading byte-order mark dropped) or UTF-16 with its byte-order mark."""
    name = shown(path)
    if path.is_dir():
        raise DataError(f"{name}: is a directory, not a data file (one item per line)")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        hint = " (`make download` fetches the reference names.txt)" if path == DEFAULT_DATA else ""
        raise DataError(f"{name}: data file not found{hint}") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise DataError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB, too large to train on")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # what spreadsheets call "Unicode text"
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError(f"{name}: starts like UTF-16 text but is not; save it as UTF-8") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in raw:
        raise DataError(f"{name}: holds NUL bytes: a binary file, or UTF-16 without a byte-order mark, not UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{name}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8, one item per line"
        ) from None


def is_name_header(cell: str) -> bool:
    """'name', 'Names', 'first_name', 'Given Name', 'surname': a column of names."""
    key = re.sub(r"[\s_\-]", "", cell).lower()
    return key.endswith(("name", "names"))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Table:
    rows: list[list[str]]
    line_numbers: list[int]  # of each row, for messages
    delimiter: str | None  # None: one column (no delimiter is consistent across the lines)
    has_header: bool


def consistent_delimiter(lines: list[str], candidates: str) -> str | None:
    """The first candidate that splits every sampled line into the same number (2 or more) of fields."""
    sample = [line for line in lines if line.strip()][:SNIFFED_ROWS]
    for delimiter in candidates:
        try:
            counts = {len(row) for row in csv.reader(sample, delimiter=delimiter)}
        except csv.Error:  # a field past csv's size limit: not a table of names
            continue
        if len(counts) == 1 and counts.pop() >= 2:
            return delimiter
    return None


def read_table(text: str, delimiter: str | None, header_named: bool, name: str) -> Table:
    """Rows of a delimited text; the first is a header when `header_named` (--column named one), when one of its
    cells names a column of names, or when a column numeric in every other sampled row is not numeric in it."""
    if delimiter is None:
        lines = text.splitlines()
        rows, numbers = [[line] for line in lines], list(range(1, len(lines) + 1))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows, numbers = [], []
        try:
            for row in reader:
                rows.append(row)
                numbers.append(reader.line_num)
        except csv.Error as exc:  # a field longer than csv's limit (128 KiB)
            raise DataError(f"{name}: line {reader.line_num}: not a table of names ({exc})") from None
    first = next((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if first is None:
        return Table([], [], delimiter, False)
    rows, numbers = rows[first:], numbers[first:]
    head, body = rows[0], rows[1:SNIFFED_ROWS]
    numeric_below = [
        i for i in range(len(head)) if body and all(i < len(row) and is_number(row[i].strip()) for row in body)
    ]
    has_header = (
        header_named
        or any(is_name_header(cell) for cell in head)
        or any(not is_number(head[i].strip()) for i in numeric_below)
    )
    return Table(rows, numbers, delimiter, has_header)


def column_index(table: Table, column: str | None, name: str) -> tuple[int, str]:
    """The 0-based index of the column to read, and how the summary names it."""
    header = [cell.strip() for cell in table.rows[0]] if table.has_header else []
    width = max(len(row) for row in table.rows)
    if column is not None and column.lstrip("-").isdigit():
        index = int(column) - 1
        if not 0 <= index < width:
            raise DataError(f"{name}: --column {column}: its rows have {width} column(s), counted from 1")
    elif column is not None:
        folded = [cell.casefold() for cell in header]
        if column.strip().casefold() not in folded:
            raise DataError(f"{name}: no column named {column!r}; its first row: {', '.join(map(repr, header))}")
        index = folded.index(column.strip().casefold())
    else:
        exact = [i for i, cell in enumerate(header) if cell.casefold() in ("name", "names")]
        like = [i for i, cell in enumerate(header) if is_name_header(cell)]
        index = (exact or like or [0])[0]
    return index, (repr(header[index]) if header and index < len(header) else str(index + 1))


@dataclass(frozen=True)
class WordsFile:
    """The items of a words file, and what was done to read them (said once, by the command that reads it)."""

    words: list[str]
    summary: str  # "read column 'name' of names.csv (comma-separated, header row): 32,033 items (29,494 distinct)"
    notes: list[str]  # what the reader changed, or what the data means, one line each


def load_words(path: str | Path, column: str | None = None, lowercase: bool = False) -> WordsFile:
    """The items of `path`: one per line, or, for a .csv/.tsv file or with `column`, the cells of one column of a
    table (`column`: a header's name, any case, or a position counted from 1; by default the column named like
    "name", else the first). Cells and lines are stripped and empty ones skipped; duplicates are kept (each row
    is one example); items are put in Unicode NFC; `lowercase` lower-cases them."""
    path = Path(path)
    name = shown(path)
    text = read_text(path)
    notes = []
    delimiter = TABLE_SUFFIXES.get(path.suffix.lower())
    if delimiter is None and column is None:
        numbered = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
        source = f"{name} (one item per line)"
        unit = "blank line"
        found = consistent_delimiter(text.splitlines(), ",\t")
        if found is not None:
            notes.append(
                f"note: every line of {name} holds a {DELIMITERS[found]}: read as whole lines; "
                "--column N reads it as a table"
            )
    else:
        lines = text.splitlines()
        if delimiter is None or consistent_delimiter(lines, delimiter) is None:
            delimiter = consistent_delimiter(lines, ",\t;|") or delimiter
        named = column is not None and not column.lstrip("-").isdigit()
        table = read_table(text, delimiter, named, name)
        if not table.rows or (table.has_header and len(table.rows) == 1):
            rows = "a header row and no other" if table.rows else "no"
            raise DataError(f"{name}: {rows} rows: the table is empty")
        index, label = column_index(table, column, name)
        start = 1 if table.has_header else 0
        numbered = [
            (line, row[index].strip() if index < len(row) else "")
            for line, row in zip(table.line_numbers[start:], table.rows[start:], strict=True)
        ]
        layout = f"{DELIMITERS[delimiter]}-separated" if delimiter else "one column"
        what = f"column {label} of {name}"
        source = f"{what} ({layout}, {'header row' if table.has_header else 'no header row'})"
        unit = "empty cell"
    kept = [(line, word) for line, word in numbered if word]
    if not kept:
        if unit == "blank line":
            raise DataError(f"{name}: no items: the file is empty or has only blank lines (expected one item per line)")
        raise DataError(f"{name}: no items: {what} is empty in every row")
    check_items(kept, name)
    words = [unicodedata.normalize("NFC", word) for _, word in kept]
    composed = sum(a != b for (_, a), b in zip(kept, words, strict=True))
    if composed:
        notes.append(f"note: {composed:,} item(s) put in Unicode NFC (composed accents), the form the service reads")
    if lowercase:
        words = [word.lower() for word in words]
    elif (note := case_note(words, name)) is not None:
        notes.append(note)
    skipped = len(numbered) - len(kept)
    summary = (
        f"read {source}: {len(words):,} items ({len(set(words)):,} distinct)"
        + (", lower-cased" if lowercase else "")
        + (f"; {skipped:,} {unit}{'' if skipped == 1 else 's'} skipped" if skipped else "")
    )
    return WordsFile(words, summary, notes)


def check_items(numbered: list[tuple[int, str]], name: str) -> None:
    """Refuse items the model cannot learn from: the boundary token inside, control characters, or a length
    no name has (a file that is not one item per line)."""
    for line, word in numbered:
        if len(word) > MAX_ITEM_CHARS:
            raise DataError(
                f"{name}: line {line}: an item of {len(word):,} characters; items are at most {MAX_ITEM_CHARS} "
                "(is this one item per line?)"
            )
        control = next((c for c in word if unicodedata.category(c) == "Cc"), None)
        if control == "\t":
            raise DataError(f"{name}: line {line}: a tab inside an item; if it is a table, --column reads a column")
        if control is not None:
            raise DataError(f"{name}: line {line}: control character U+{ord(control):04X} in an item; is it text?")
    dotted = [(line, word) for line, word in numbered if BOUNDARY in word]
    if dotted:
        line, word = dotted[0]
        raise DataError(f"{name}: {len(dotted)} item(s) contain the boundary token '.', e.g. {word!r} on line {line}")


def case_note(words: list[str], name: str) -> str | None:
    """One line when a letter occurs in both cases: the model would treat 'Smith' and 'smith' as two names."""
    chars = set().union(*map(set, words))
    if not any(c != c.lower() and c.lower() in chars for c in chars):
        return None
    example = next(w for w in words if w != w.lower())
    size, folded = Vocabulary.from_words(words).size, Vocabulary.from_words([w.lower() for w in words]).size
    return (
        f"note: {name} mixes upper and lower case: {example} and {example.lower()} would be different names "
        f"({size}-character vocabulary); --lowercase folds them ({folded} characters)"
    )


def read_words(path: str | Path) -> list[str]:
    """The items of a words file (see load_words), as the commands that take no reading options read them."""
    return load_words(path).words


@dataclass(frozen=True)
class Vocabulary:
    """Token id <-> character; id 0 is the boundary token."""

    chars: tuple[str, ...]

    @classmethod
    def from_words(cls, words: list[str]) -> Vocabulary:
        return cls((BOUNDARY, *sorted(set("".join(words)))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        index = {c: i for i, c in enumerate(self.chars)}
        return [index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class Split:
    train: list[str]
    dev: list[str]
    test: list[str]


def reference_split(words: list[str], seed: int = SPLIT_SEED) -> Split:
    """80/10/10 after `random.seed(seed); random.shuffle(words)`, as in the lectures."""
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)  # same order as random.seed(seed); random.shuffle(...)
    n1, n2 = int(0.8 * len(shuffled)), int(0.9 * len(shuffled))
    return Split(shuffled[:n1], shuffled[n1:n2], shuffled[n2:])


def split_word_counts(words: list[str]) -> dict[str, int]:
    """Words in each part of the reference split, for the model card."""
    split = reference_split(words)
    return {"train": len(split.train), "dev": len(split.dev), "test": len(split.test)}


@dataclass(frozen=True)
class ContextWindows:
    """Every (previous `block_size` ids, next id) pair of a word list.

    Each word contributes len(word) + 1 examples: one per character and one for
    the end-of-word boundary. Contexts before the start are padded with id 0.
    """

    x: torch.Tensor  # (N, block_size) int64
    y: torch.Tensor  # (N,) int64

    @classmethod
    def build(cls, words: list[str], vocab: Vocabulary, block_size: int) -> ContextWindows:
        xs: list[list[int]] = []
        ys: list[int] = []
        for word in words:
            context = [0] * block_size
            for token in [*vocab.encode(word), 0]:
                xs.append(context)
                ys.append(token)
                context = [*context[1:], token]
        x = torch.tensor(xs, dtype=torch.long).reshape(-1, block_size)
        return cls(x, torch.tensor(ys, dtype=torch.long))

    def __len__(self) -> int:
        return int(self.y.shape[0])
