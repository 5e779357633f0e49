"""Fetch a reference data set from its public copy, check its sha256 and write it where training reads it.

    python -m training.download [--out PATH] [--force]                          # names.txt (the default)
    python -m training.download --dataset us-surnames [--out PATH] [--force]    # data/us-surnames.txt

names: karpathy/makemore's names.txt, written as downloaded.
us-surnames: the 1990 US census surname list (88,799 surnames, most frequent first), from the sdist of the
MIT-licensed `names` package on PyPI: the first column of names-0.3.0/names/dist.all.last, lower-cased,
one per line.

The file is written atomically (a temporary file beside it, then a rename), and only once every checksum
matches (the download's and, for us-surnames, the extracted text's), so a half-downloaded or altered copy
is never left where training reads it. Offline, on a mismatch or an unreadable archive: one line on
stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.hashing import bytes_sha256

REPO_ROOT = Path(__file__).resolve().parents[1]

# From the data README (../shared/data/README.md).
NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
# ../shared/data/names.txt beside the repository: where training reads it, never inside the repo.
DEFAULT_OUT = REPO_ROOT.parent / "shared" / "data" / "names.txt"

# The sdist of names 0.3.0 (MIT) on PyPI, and the census surname list inside it.
SURNAMES_URL = (
    "https://files.pythonhosted.org/packages/44/4e/"
    "f9cb7ef2df0250f4ba3334fbdabaa94f9c88097089763d8e85ada8092f84/names-0.3.0.tar.gz"
)
SURNAMES_SHA256 = "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671"  # the .tar.gz, 789,099 bytes
SURNAMES_MEMBER = "names-0.3.0/names/dist.all.last"
SURNAMES_TEXT_SHA256 = "4ec7babc98a4ed0347b97fe26d7df34520c577c4e587abf8924e8ddd6939a01d"  # the output, 695,422 bytes
# data/ in the repository: git-ignored (/data/ in .gitignore), so it is never committed.
SURNAMES_OUT = REPO_ROOT / "data" / "us-surnames.txt"

MAX_BYTES = 16 * 1024 * 1024  # the real files are ~228 kB and ~789 kB; refuse anything absurd rather than fill the disk
MAX_MEMBER_BYTES = 8 * 1024 * 1024  # dist.all.last is ~3.1 MB uncompressed
TIMEOUT_SECONDS = 30.0


class DownloadError(Exception):
    """A one-line reason the data could not be fetched or trusted."""


def unchanged(data: bytes) -> bytes:
    """The text to write is the download itself."""
    return data


def census_surnames(archive: bytes) -> bytes:
    """From the names-0.3.0 sdist: the first field of each line of dist.all.last, lower-cased, one per line.

    Only that one member is read, in memory; it must be a regular file of at most MAX_MEMBER_BYTES.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            try:
                member = tar.getmember(SURNAMES_MEMBER)
            except KeyError:
                raise DownloadError(f"the archive has no {SURNAMES_MEMBER}") from None
            if not member.isreg():
                raise DownloadError(f"{SURNAMES_MEMBER} in the archive is not a regular file")
            if member.size > MAX_MEMBER_BYTES:
                raise DownloadError(f"{SURNAMES_MEMBER} in the archive is larger than {MAX_MEMBER_BYTES} bytes")
            f = tar.extractfile(member)
            if f is None:  # cannot happen for a regular file; checked rather than asserted
                raise DownloadError(f"{SURNAMES_MEMBER} in the archive has no contents")
            raw = f.read(MAX_MEMBER_BYTES + 1)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
        raise DownloadError(f"not a readable .tar.gz archive: {exc or type(exc).__name__}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DownloadError(f"{SURNAMES_MEMBER} in the archive is not ASCII text") from None
    surnames = [fields[0].lower() for fields in (line.split() for line in text.split("\n")) if fields]
    return "".join(f"{surname}\n" for surname in surnames).encode("ascii")


@dataclass(frozen=True)
class Dataset:
    name: str
    url: str
    sha256: str  # of the downloaded file
    default_out: Path
    extract: Callable[[bytes], bytes] = unchanged  # the downloaded bytes -> the text to write
    text_sha256: str | None = None  # of the written text; None: the text is the download, so it is `sha256`


DATASETS: dict[str, Dataset] = {
    "names": Dataset("names", NAMES_URL, NAMES_SHA256, DEFAULT_OUT),
    "us-surnames": Dataset(
        "us-surnames", SURNAMES_URL, SURNAMES_SHA256, SURNAMES_OUT, census_surnames, SURNAMES_TEXT_SHA256
    ),
}


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


def download(
    out: Path,
    url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
    dataset: Dataset = DATASETS["names"],
    text_sha256: str | None = None,
) -> str:
    """Make `out` hold `dataset`'s text; returns what was done, for the user.

    `url`, `sha256` (of the download) and `text_sha256` (of the written text) default to the dataset's.
    """
    url = dataset.url if url is None else url
    sha256 = dataset.sha256 if sha256 is None else sha256
    text_sha256 = dataset.text_sha256 if text_sha256 is None else text_sha256
    written_sha256 = sha256 if text_sha256 is None else text_sha256
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"not an http(s) URL: {url}")
    if out.is_file() and not force:
        if bytes_sha256(out.read_bytes()) == written_sha256:
            return f"{out}: already present, sha256 matches"
        raise DownloadError(f"{out} exists with a different sha256; remove it or pass --force to replace it")
    data = fetch(url)
    digest = bytes_sha256(data)
    if digest != sha256:
        raise DownloadError(f"checksum mismatch for {url}: got sha256 {digest}, expected {sha256}; nothing written")
    text = dataset.extract(data)
    text_digest = bytes_sha256(text)
    if text_digest != written_sha256:
        raise DownloadError(
            f"checksum mismatch for the {dataset.name} text from {url}: got sha256 {text_digest}, "
            f"expected {written_sha256}; nothing written"
        )
    try:
        write_atomically(text, out)
    except OSError as exc:
        raise DownloadError(f"could not write {out}: {exc.strerror or exc}") from None
    if text is data:
        return f"{out}: downloaded {len(data)} bytes, sha256 matches"
    return f"{out}: downloaded {len(data)} bytes, wrote {len(text)} bytes of {dataset.name}, sha256s match"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("--dataset", choices=sorted(DATASETS), default="names", help="which data set (default names)")
    p.add_argument(
        "--out", type=Path, help=f"where to write it (default {DEFAULT_OUT} for names, {SURNAMES_OUT} for us-surnames)"
    )
    p.add_argument("--url", help="the public copy to fetch (default: the data set's)")
    p.add_argument("--sha256", help="the digest the downloaded file must have (default: the data set's)")
    p.add_argument("--force", action="store_true", help="replace an existing file whose sha256 differs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dataset = DATASETS[args.dataset]
    out = dataset.default_out if args.out is None else args.out
    sha256 = None if args.sha256 is None else args.sha256.lower()
    try:
        print(download(out, args.url, sha256, args.force, dataset))
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
