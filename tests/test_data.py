"""training.data: words, vocabulary, the reference split and context windows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from app.hashing import file_sha256
from training.data import ContextWindows, DataError, Vocabulary, read_words, reference_split

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
def test_reference_split_of_names_partitions_the_lines_deterministically() -> None:
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
    again = reference_split(read_words(NAMES))
    assert (again.train, again.dev, again.test) == (split.train, split.dev, split.test)
