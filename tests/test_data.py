"""training.data: words, vocabulary, the reference split and context windows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from app.hashing import file_sha256
from training.data import ContextWindows, DataError, Vocabulary, load_words, read_words, reference_split

NAMES = Path(__file__).parents[1].parent / "shared/data/names.txt"
needs_names = pytest.mark.skipif(not NAMES.is_file(), reason=f"{NAMES} absent (python -m training.download)")


def test_read_words_strips_lines_and_drops_blank_ones(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("  emma \n\n\t\nolivia\r\n ava\n   \n", encoding="utf-8")
    assert read_words(path) == ["emma", "olivia", "ava"]


def test_read_words_keeps_order_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("zoe\nanna\nzoe\n", encoding="utf-8")
    assert read_words(path) == ["zoe", "anna", "zoe"]


def test_read_words_rejects_the_boundary_token_inside_an_item(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("anna\nj.r.r\nbob\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"boundary token '\.'.*'j\.r\.r'"):
        read_words(path)


def test_read_words_rejects_a_file_with_only_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        read_words(path)
    assert (
        str(raised.value) == f"{path}: no items: the file is empty or has only blank lines (expected one item per line)"
    )


def test_read_words_names_the_line_of_the_first_byte_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b"anna\nbob\nchlo\xe9\n")  # latin-1
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 on line 3\)"):
        read_words(path)


def test_vocabulary_puts_the_boundary_first_then_sorted_characters() -> None:
    vocab = Vocabulary.from_words(["cab", "zed", "ba"])
    assert vocab.chars == (".", "a", "b", "c", "d", "e", "z")
    assert vocab.size == 7
    assert vocab.encode("zed") == [6, 5, 4]
    assert vocab.decode([3, 1, 2, 0]) == "cab."


def test_windows_of_ab_with_block_size_3_are_exact() -> None:
    vocab = Vocabulary.from_words(["ab"])  # . a b -> 0 1 2
    windows = ContextWindows.build(["ab"], vocab, block_size=3)
    assert torch.equal(windows.x, torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 2]]))
    assert torch.equal(windows.y, torch.tensor([1, 2, 0]))
    assert windows.x.dtype == windows.y.dtype == torch.int64


def test_each_word_gives_one_window_per_character_plus_the_end() -> None:
    words = ["a", "bcd", "ee"]
    windows = ContextWindows.build(words, Vocabulary.from_words(words), block_size=2)
    assert len(windows) == 2 + 4 + 3
    # Every word starts from a context of boundaries only.
    starts = [0, 2, 6]
    assert all(windows.x[i].tolist() == [0, 0] for i in starts)


def test_reference_split_is_the_lecture_recipe_on_a_small_list() -> None:
    import random

    words = [f"w{i}" for i in range(20)]
    expected = list(words)
    random.seed(42)
    random.shuffle(expected)
    split = reference_split(words)
    assert (split.train, split.dev, split.test) == (expected[:16], expected[16:18], expected[18:])
    assert words == [f"w{i}" for i in range(20)]  # the input list is not shuffled in place


def test_file_sha256_is_the_digest_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b"anna\nbob\n")
    assert file_sha256(path) == hashlib.sha256(b"anna\nbob\n").hexdigest()


@needs_names
def test_reference_split_of_names_has_the_lecture_sizes() -> None:
    split = reference_split(read_words(NAMES))
    assert (len(split.train), len(split.dev), len(split.test)) == (25626, 3203, 3204)


@needs_names
def test_reference_split_of_names_partitions_the_lines() -> None:
    words = read_words(NAMES)
    assert len(words) == 32033
    # Some names occur on several lines, so membership is checked by line number:
    # the same shuffle applied to the line numbers must pick out exactly the same words.
    positions = reference_split([str(i) for i in range(len(words))])
    train, dev, test = ({int(i) for i in part} for part in (positions.train, positions.dev, positions.test))
    assert not train & dev and not train & test and not dev & test
    assert train | dev | test == set(range(len(words)))
    split = reference_split(words)
    assert split.train == [words[int(i)] for i in positions.train]
    assert split.dev == [words[int(i)] for i in positions.dev]
    assert split.test == [words[int(i)] for i in positions.test]


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_a_csv_is_read_by_its_name_column_with_cells_stripped_empty_ones_skipped_duplicates_kept(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, "names.csv", "count,Name,gender\n979,Pharris,M\n12, anna ,F\n5,,F\n3,anna,F\n")
    loaded = load_words(path)
    assert loaded.words == ["Pharris", "anna", "anna"]
    assert loaded.summary == (
        f"read column 'Name' of {path} (comma-separated, header row): 3 items (2 distinct); 1 empty cell skipped"
    )


def test_a_tsv_with_a_byte_order_mark_and_crlf_lines_is_read_as_text(tmp_path: Path) -> None:
    path = written(tmp_path, "names.tsv", "\ufeffname\tcount\r\nzoe\t3\r\nbo\t4\r\n")
    loaded = load_words(path)
    assert loaded.words == ["zoe", "bo"]
    assert Vocabulary.from_words(loaded.words).chars == (".", "b", "e", "o", "z")


def test_a_table_without_a_header_is_read_from_its_first_column(tmp_path: Path) -> None:
    path = written(tmp_path, "yob2018.csv", "emma,F,18688\nolivia,F,17921\nava,F,14924\n")
    loaded = load_words(path)
    assert loaded.words == ["emma", "olivia", "ava"]
    assert loaded.summary == f"read column 1 of {path} (comma-separated, no header row): 3 items (3 distinct)"


@pytest.mark.parametrize("column", ["GENDER", "3"])
def test_column_is_a_header_name_in_any_case_or_a_position_from_1(column: str, tmp_path: Path) -> None:
    path = written(tmp_path, "names.csv", "name,count,gender\nanna,3,F\nbob,4,M\n")
    assert load_words(path, column).words == ["F", "M"]


def test_column_reads_a_table_whatever_its_file_name(tmp_path: Path) -> None:
    path = written(tmp_path, "names.txt", "name;count\nanna;3\nbob;4\n")
    assert load_words(path, "name").words == ["anna", "bob"]


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        ("nmae", "no column named 'nmae'; its first row: 'name', 'count'"),
        ("3", "--column 3: its rows have 2 column(s), counted from 1"),
        ("0", "--column 0: its rows have 2 column(s), counted from 1"),
    ],
)
def test_a_column_the_table_lacks_is_one_line_naming_its_columns(column: str, reason: str, tmp_path: Path) -> None:
    path = written(tmp_path, "names.csv", "name,count\nanna,3\n")
    with pytest.raises(DataError) as raised:
        load_words(path, column)
    assert str(raised.value) == f"{path}: {reason}"


def test_a_csv_with_a_header_and_no_rows_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path, "names.csv", "name,count,gender\r\n")
    with pytest.raises(DataError) as raised:
        load_words(path)
    assert str(raised.value) == f"{path}: a header row and no other rows: the table is empty"


def test_mixed_case_gets_one_note_saying_what_it_means_and_how_to_fold_it(tmp_path: Path) -> None:
    path = written(tmp_path, "names.csv", "name\nPharris\nanna\nBob\n")
    loaded = load_words(path)
    assert loaded.notes == [
        f"note: {path} mixes upper and lower case: Pharris and pharris would be different names "
        "(11-character vocabulary); --lowercase folds them (10 characters)"
    ]
    assert Vocabulary.from_words(loaded.words).chars == (".", "B", "P", "a", "b", "h", "i", "n", "o", "r", "s")


def test_lowercase_folds_the_items_and_says_so(tmp_path: Path) -> None:
    path = written(tmp_path, "names.csv", "name\nPharris\nanna\nBob\nbob\n")
    loaded = load_words(path, lowercase=True)
    assert loaded.words == ["pharris", "anna", "bob", "bob"]
    assert Vocabulary.from_words(loaded.words).chars == (".", "a", "b", "h", "i", "n", "o", "p", "r", "s")
    assert loaded.summary.endswith(": 4 items (3 distinct), lower-cased")
    assert loaded.notes == []


def test_a_plain_file_whose_lines_all_hold_commas_is_read_whole_with_a_note(tmp_path: Path) -> None:
    path = written(tmp_path, "yob2018.txt", "emma,f,18688\nava,f,14924\n")
    loaded = load_words(path)
    assert loaded.words == ["emma,f,18688", "ava,f,14924"]
    assert loaded.notes == [
        f"note: every line of {path} holds a comma: read as whole lines; --column N reads it as a table"
    ]


def test_decomposed_accents_are_composed_as_the_service_reads_them(tmp_path: Path) -> None:
    path = written(tmp_path, "w.txt", "jose\u0301\nanna\n")
    loaded = load_words(path)
    assert loaded.words == ["jos\u00e9", "anna"]
    assert loaded.notes == ["note: 1 item(s) put in Unicode NFC (composed accents), the form the service reads"]


def test_utf16_with_its_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes("anna\r\nbob\r\n".encode("utf-16"))
    assert read_words(path) == ["anna", "bob"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b"\x7fELF\x02\x01\x01\x00\x00",
            "holds NUL bytes: a binary file, or UTF-16 without a byte-order mark, not UTF-8 text",
        ),
        (
            "anna\nbob\n".encode("utf-16-le"),
            "holds NUL bytes: a binary file, or UTF-16 without a byte-order mark, not UTF-8 text",
        ),
        (b"anna\nb\x1bob\n", "line 2: control character U+001B in an item; is it text?"),
        (
            b"anna\n" + b"x" * 257 + b"\n",
            "line 2: an item of 257 characters; items are at most 256 (is this one item per line?)",
        ),
    ],
)
def test_a_file_that_is_not_a_list_of_names_is_one_line(content: bytes, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as raised:
        read_words(path)
    assert str(raised.value) == f"{path}: {reason}"
