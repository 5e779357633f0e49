"""training.download against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import pytest

import training.download
from training.download import (
    DATASETS,
    NAMES_SHA256,
    NAMES_URL,
    SURNAMES_MEMBER,
    SURNAMES_TEXT_SHA256,
    DownloadError,
    download,
    main,
)

CONTENT = b"emma\nolivia\nava\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()

# The head of the census list, as names-0.3.0/names/dist.all.last has it.
CENSUS_LINES = (
    b"SMITH          1.006  1.006      1\n"
    b"JOHNSON        0.810  1.816      2\n"
    b"WILLIAMS       0.699  2.515      3\n"
    b"JONES          0.621  3.136      4\n"
    b"BROWN          0.621  3.757      5\n"
)
SURNAMES = b"smith\njohnson\nwilliams\njones\nbrown\n"
SURNAMES_DIGEST = hashlib.sha256(SURNAMES).hexdigest()


class QuietHandler(SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        QuietHandler.requests.append(self.path)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment must not intercept requests to 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Serves tmp_path/served/ on a free port; yields the base URL."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "names.txt").write_bytes(CONTENT)
    QuietHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/names.txt"  # nothing listens there any more


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err  # one line, no traceback
    return err


def test_defaults_are_the_documented_public_copy_and_digest() -> None:
    readme = Path(__file__).parents[1].parent / "shared/data/README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} absent")
    text = readme.read_text()
    assert NAMES_URL in text and NAMES_SHA256 in text


def test_downloads_the_file_when_the_checksum_matches(server: str, tmp_path: Path) -> None:
    out = tmp_path / "data" / "names.txt"
    assert main(["--url", f"{server}/names.txt", "--sha256", DIGEST, "--out", str(out)]) == 0
    assert out.read_bytes() == CONTENT
    assert sorted(p.name for p in out.parent.iterdir()) == ["names.txt"]  # no temporary file left


def test_a_checksum_mismatch_writes_nothing_and_exits_nonzero(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data" / "names.txt"
    assert main(["--url", f"{server}/names.txt", "--sha256", NAMES_SHA256, "--out", str(out)]) == 1
    err = one_error_line(capsys)
    assert "checksum mismatch" in err and DIGEST in err and NAMES_SHA256 in err
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_offline_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "names.txt"
    assert main(["--url", closed_port_url(), "--sha256", DIGEST, "--out", str(out)]) == 1
    assert "could not download" in one_error_line(capsys)
    assert not out.exists()


def test_an_http_error_status_is_reported(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", f"{server}/missing.txt", "--sha256", DIGEST, "--out", str(tmp_path / "n.txt")]) == 1
    assert "HTTP 404" in one_error_line(capsys)


def test_a_present_file_with_the_right_digest_is_not_fetched_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "names.txt"
    out.write_bytes(CONTENT)
    # The URL cannot be reached: success proves no fetch happened.
    assert main(["--url", closed_port_url(), "--sha256", DIGEST, "--out", str(out)]) == 0
    assert "already present" in capsys.readouterr().out


def test_a_present_file_with_another_digest_is_kept_unless_forced(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "names.txt"
    out.write_bytes(b"someone else's file\n")
    args = ["--url", f"{server}/names.txt", "--sha256", DIGEST, "--out", str(out)]
    assert main(args) == 1
    assert "--force" in one_error_line(capsys)
    assert out.read_bytes() == b"someone else's file\n"
    assert QuietHandler.requests == []
    assert main([*args, "--force"]) == 0
    assert out.read_bytes() == CONTENT


def test_a_forced_download_with_a_bad_checksum_leaves_the_old_file(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "names.txt"
    out.write_bytes(b"old\n")
    assert main(["--url", f"{server}/names.txt", "--sha256", "0" * 64, "--out", str(out), "--force"]) == 1
    assert "checksum mismatch" in one_error_line(capsys)
    assert out.read_bytes() == b"old\n"


def test_only_http_urls_are_fetched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "file:///etc/passwd", "--sha256", DIGEST, "--out", str(tmp_path / "n.txt")]) == 1
    assert "not an http(s) URL" in one_error_line(capsys)


# --- us-surnames: the census list inside the names-0.3.0 sdist ---


def tar_gz(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A .tar.gz built in memory: regular files with their contents, and symlinks to their targets."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def serve_archive(tmp_path: Path, archive: bytes) -> tuple[str, str]:
    """Puts `archive` where the `server` fixture serves it; returns its path on the server and its sha256."""
    (tmp_path / "served" / "names-0.3.0.tar.gz").write_bytes(archive)
    return "/names-0.3.0.tar.gz", hashlib.sha256(archive).hexdigest()


SDIST = tar_gz(
    {
        "names-0.3.0/setup.py": b"from setuptools import setup\n",
        "names-0.3.0/names/dist.male.first": b"JAMES          3.318  3.318      1\n",
        SURNAMES_MEMBER: CENSUS_LINES,
    }
)


def test_the_surnames_dataset_writes_the_lower_cased_first_column_of_the_census_list(
    server: str, tmp_path: Path
) -> None:
    path, archive_sha = serve_archive(tmp_path, SDIST)
    out = tmp_path / "data" / "us-surnames.txt"
    message = download(
        out, f"{server}{path}", archive_sha, dataset=DATASETS["us-surnames"], text_sha256=SURNAMES_DIGEST
    )
    assert out.read_bytes() == b"smith\njohnson\nwilliams\njones\nbrown\n"
    assert message == f"{out}: downloaded {len(SDIST)} bytes, wrote 35 bytes of us-surnames, sha256s match"
    assert sorted(p.name for p in out.parent.iterdir()) == ["us-surnames.txt"]  # no temporary file left


def test_a_wrong_archive_sha256_writes_nothing_and_exits_nonzero(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, archive_sha = serve_archive(tmp_path, SDIST)
    out = tmp_path / "data" / "us-surnames.txt"
    assert main(["--dataset", "us-surnames", "--url", f"{server}{path}", "--sha256", "0" * 64, "--out", str(out)]) == 1
    err = one_error_line(capsys)
    assert f"checksum mismatch for {server}{path}: got sha256 {archive_sha}, expected {'0' * 64}" in err
    assert not out.exists() and not out.parent.exists()


def test_an_archive_without_the_census_list_is_a_one_line_error_naming_it(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, archive_sha = serve_archive(tmp_path, tar_gz({"names-0.3.0/names/dist.male.first": CENSUS_LINES}))
    out = tmp_path / "us-surnames.txt"
    assert (
        main(["--dataset", "us-surnames", "--url", f"{server}{path}", "--sha256", archive_sha, "--out", str(out)]) == 1
    )
    assert one_error_line(capsys) == "error: the archive has no names-0.3.0/names/dist.all.last\n"
    assert not out.exists()


def test_a_text_sha256_mismatch_writes_nothing(server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The archive's digest is given and matches; the five-line text is not the real list's 88,799 lines.
    path, archive_sha = serve_archive(tmp_path, SDIST)
    out = tmp_path / "data" / "us-surnames.txt"
    assert (
        main(["--dataset", "us-surnames", "--url", f"{server}{path}", "--sha256", archive_sha, "--out", str(out)]) == 1
    )
    err = one_error_line(capsys)
    assert f"got sha256 {SURNAMES_DIGEST}, expected {SURNAMES_TEXT_SHA256}; nothing written" in err
    assert not out.exists() and not out.parent.exists()


def test_a_file_that_is_not_gzip_is_a_one_line_error(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, archive_sha = serve_archive(tmp_path, CENSUS_LINES)  # the list itself, not an archive of it
    out = tmp_path / "us-surnames.txt"
    assert (
        main(["--dataset", "us-surnames", "--url", f"{server}{path}", "--sha256", archive_sha, "--out", str(out)]) == 1
    )
    assert one_error_line(capsys).startswith("error: not a readable .tar.gz archive: ")
    assert not out.exists()


def test_a_census_list_that_is_not_a_regular_file_is_refused(server: str, tmp_path: Path) -> None:
    path, archive_sha = serve_archive(tmp_path, tar_gz({}, symlinks={SURNAMES_MEMBER: "/etc/passwd"}))
    out = tmp_path / "us-surnames.txt"
    with pytest.raises(
        DownloadError, match=r"^names-0\.3\.0/names/dist\.all\.last in the archive is not a regular file$"
    ):
        download(out, f"{server}{path}", archive_sha, dataset=DATASETS["us-surnames"], text_sha256=SURNAMES_DIGEST)
    assert not out.exists()


def test_a_census_list_larger_than_the_bound_is_refused(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training.download, "MAX_MEMBER_BYTES", len(CENSUS_LINES) - 1)
    path, archive_sha = serve_archive(tmp_path, SDIST)
    out = tmp_path / "us-surnames.txt"
    with pytest.raises(DownloadError, match=f"larger than {len(CENSUS_LINES) - 1} bytes$"):
        download(out, f"{server}{path}", archive_sha, dataset=DATASETS["us-surnames"], text_sha256=SURNAMES_DIGEST)
    assert not out.exists()


def test_a_present_surnames_file_is_checked_by_the_text_sha256_not_fetched_again(tmp_path: Path) -> None:
    out = tmp_path / "us-surnames.txt"
    out.write_bytes(SURNAMES)
    # The URL cannot be reached and the archive digest is wrong: success proves no fetch happened.
    message = download(out, closed_port_url(), "0" * 64, dataset=DATASETS["us-surnames"], text_sha256=SURNAMES_DIGEST)
    assert message == f"{out}: already present, sha256 matches"
    assert out.read_bytes() == SURNAMES


def test_the_us_surnames_dataset_is_the_names_0_3_0_sdist_on_pypi() -> None:
    surnames = DATASETS["us-surnames"]
    url = urlparse(surnames.url)
    assert (url.scheme, url.netloc) == ("https", "files.pythonhosted.org")
    assert url.path.endswith("/names-0.3.0.tar.gz")
    assert surnames.sha256 == "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671"
    assert surnames.text_sha256 == "4ec7babc98a4ed0347b97fe26d7df34520c577c4e587abf8924e8ddd6939a01d"
    repo = Path(__file__).resolve().parents[1]
    assert surnames.default_out == repo / "data" / "us-surnames.txt"
    assert "/data/" in (repo / ".gitignore").read_text().splitlines()  # never committed
