"""training.download against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from training.download import NAMES_SHA256, NAMES_URL, main

CONTENT = b"emma\nolivia\nava\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()


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
