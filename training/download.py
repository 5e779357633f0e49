"""Fetch the reference data (names.txt) from its public copy and check its sha256.

    python -m training.download [--out PATH] [--force]

The file is written atomically (a temporary file beside it, then a rename), and
only once its checksum matches, so a half-downloaded or altered copy is never
left where training reads it. Offline or on a mismatch: one line on stderr,
exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from app.hashing import bytes_sha256

# From the data README (../shared/data/README.md).
NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
# ../shared/data/names.txt beside the repository: where training reads it, never inside the repo.
DEFAULT_OUT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "names.txt"
MAX_BYTES = 16 * 1024 * 1024  # the real file is ~228 kB; refuse anything absurd rather than fill the disk
TIMEOUT_SECONDS = 30.0


class DownloadError(Exception):
    """A one-line reason the data could not be fetched or trusted."""


def fetch(url: str, timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_BYTES) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # http(s) only: checked in download()
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"could not download {url} (offline?): {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise DownloadError(f"could not download {url}: {exc or type(exc).__name__}") from None
    if len(data) > max_bytes:
        raise DownloadError(f"could not download {url}: larger than {max_bytes} bytes, not the expected file")
    return data


def write_atomically(data: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(out: Path, url: str = NAMES_URL, sha256: str = NAMES_SHA256, force: bool = False) -> str:
    """Make `out` hold the file whose digest is `sha256`; returns what was done, for the user."""
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"not an http(s) URL: {url}")
    if out.is_file() and not force:
        if bytes_sha256(out.read_bytes()) == sha256:
            return f"{out}: already present, sha256 matches"
        raise DownloadError(f"{out} exists with a different sha256; remove it or pass --force to replace it")
    data = fetch(url)
    digest = bytes_sha256(data)
    if digest != sha256:
        raise DownloadError(f"checksum mismatch for {url}: got sha256 {digest}, expected {sha256}; nothing written")
    try:
        write_atomically(data, out)
    except OSError as exc:
        raise DownloadError(f"could not write {out}: {exc.strerror or exc}") from None
    return f"{out}: downloaded {len(data)} bytes, sha256 matches"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write it (default {DEFAULT_OUT})")
    p.add_argument("--url", default=NAMES_URL, help="the public copy to fetch")
    p.add_argument("--sha256", default=NAMES_SHA256, help="the digest the file must have")
    p.add_argument("--force", action="store_true", help="replace an existing file whose sha256 differs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(download(args.out, args.url, args.sha256.lower(), args.force))
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
