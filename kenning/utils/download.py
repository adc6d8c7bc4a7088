"""Verified downloads and safe archive extraction for datasets (standard library only).

:func:`download` streams a URL (``http(s)://`` or ``file://``) into a temporary
file beside the destination, hashing as it goes, and renames it only once the
size and checksums match, so an interrupted or corrupt download never looks
like a finished one. :func:`extract_tar` unpacks with tarfile's ``"data"``
filter, which refuses members that would land outside the destination.
Every failure is a :class:`~kenning.utils.errors.DownloadError` (network, HTTP,
checksum) or :class:`~kenning.utils.errors.DatasetError` (archive) that names
the URL or file and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

from kenning.utils.errors import DatasetError, DownloadError
from kenning.utils.progress import progress

log = logging.getLogger("kenning.download")

CHUNK = 1 << 20
#: progress bars count mebibytes: byte counts would be unreadable
MIB = 1 << 20


def _describe(exc: BaseException) -> str:
    """A short, human reason for a network failure."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return f"host name lookup failed ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def file_digests(path: Path) -> dict[str, str]:
    """MD5 and SHA-256 hex digests of a file, read in chunks.

    Parameters
    ----------
    path : Path
        File to hash.

    Returns
    -------
    dict
        ``{"md5": ..., "sha256": ...}``.
    """
    hashes = {"md5": hashlib.md5(usedforsecurity=False), "sha256": hashlib.sha256()}
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def _check_digests(
    got: dict[str, str], md5: str | None, sha256: str | None, url: str, hint: str
) -> None:
    for name, expected in (("md5", md5), ("sha256", sha256)):
        if expected and got[name] != expected.lower():
            raise DownloadError(
                f"checksum mismatch for {url}: expected {name} {expected.lower()}, got "
                f"{got[name]}; the file was deleted: retry the download, or use a mirror "
                f"that serves the original file{hint}",
                url,
            )


def download(
    url: str,
    dest: Path,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    hint: str = "",
) -> Path:
    """Download ``url`` to ``dest`` and verify it; ``dest`` appears only when valid.

    Parameters
    ----------
    url : str
        ``http://``, ``https://`` or ``file://`` address.
    dest : Path
        Final file path; its folder is created.
    md5, sha256 : str, optional
        Expected hex digests; each one given is checked.
    timeout : float
        Seconds to wait for the connection and for each read.
    hint : str
        Follows "use a mirror" in error messages, e.g. ``" (--dataset-mirror URL)"``.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        On an HTTP error status, a connection failure or time-out, a body
        shorter than its ``Content-Length``, or a checksum mismatch.
    DatasetError
        If the destination cannot be written.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DatasetError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digests = _stream(url, out, timeout, hint)
        _check_digests(digests, md5, sha256, url, hint)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("downloaded %s to %s (md5 %s)", url, dest, digests["md5"])
    return dest


def _stream(url: str, out: BinaryIO, timeout: float, hint: str) -> dict[str, str]:
    """Copy the body of ``url`` into the binary file ``out``; return its digests."""
    hashes = {"md5": hashlib.md5(usedforsecurity=False), "sha256": hashlib.sha256()}
    received = 0
    total: int | None = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            name = url.rstrip("/").rsplit("/", 1)[-1]
            shown = 0
            with progress(f"downloading {name} (MiB)", -(-total // MIB) if total else None) as adv:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
                    received += len(chunk)
                    if received // MIB > shown:
                        adv(received // MIB - shown)
                        shown = received // MIB
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"downloading {url} failed: HTTP {exc.code} {exc.reason}; check the URL, or use a "
            f"mirror that serves the file{hint}",
            url,
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        after = f" after {received} bytes" if received else ""
        raise DownloadError(
            f"downloading {url} failed: {_describe(exc)}{after}; check the network and "
            f"retry, or use a mirror{hint}",
            url,
        ) from exc
    if total is not None and received != total:
        raise DownloadError(
            f"downloading {url} failed: connection closed after {received} of {total} bytes; "
            f"retry, or use a mirror{hint}",
            url,
        )
    return {name: h.hexdigest() for name, h in hashes.items()}


def extract_tar(archive: Path, dest: Path) -> None:
    """Unpack a (possibly compressed) tar archive into ``dest``, refusing unsafe members.

    Parameters
    ----------
    archive : Path
        The ``.tar``, ``.tar.gz``, ... file.
    dest : Path
        Folder to unpack into (created).

    Raises
    ------
    DatasetError
        If the archive is corrupt or truncated, a member would be written
        outside ``dest`` (absolute path, ``..``, link escaping it), or the
        files cannot be written.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with (
            tarfile.open(archive, "r:*") as tar,
            progress(f"extracting {archive.name} (files)", None) as advance,
        ):
            for member in tar:
                tar.extract(member, dest, filter="data")
                advance(1)
    except tarfile.FilterError as exc:
        raise DatasetError(
            f"refusing to extract {archive}: {exc}; the archive is not the expected one, "
            "delete it and download it again",
            dest,
        ) from exc
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{archive} is not a valid tar archive ({exc or type(exc).__name__}); "
            "delete it and download it again",
            dest,
        ) from exc
    except OSError as exc:
        raise DatasetError(
            f"cannot extract {archive} into {dest}: {exc.strerror or exc}", dest
        ) from exc
