"""Put kenning's server side on a board: as a zip for its own Python, or as the target image.

``script`` boards get ``kenning-server-<hash>.zip`` (kenning's pure-Python package; the board
brings its Python, numpy and runtimes) pushed into each run's private folder, checked by
SHA-256 there (:mod:`kenning.boards.runfolder`), and run with ``PYTHONPATH`` set to it.
``image`` boards get the target image streamed ``docker save`` -> SSH -> ``docker load``,
skipped when the board already has that image ID, and run with ``docker run``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import zipfile
from pathlib import Path
from typing import Any

import kenning
from kenning.executors.boarderrors import BoardError
from kenning.executors.ssh.channel import run_command, transfer_deadline
from kenning.executors.ssh.executor import SSHExecutor
from kenning.utils.progress import progress

_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


def _package_files() -> list[tuple[Path, str]]:
    root = Path(kenning.__file__).resolve().parent
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(folder) / name
            files.append((path, str(Path("kenning") / path.relative_to(root))))
    return files


def server_zip(cache: Path) -> Path:
    """Kenning's package as a zip importable from ``PYTHONPATH``; built once per content.

    Parameters
    ----------
    cache : Path
        Folder for the zip (named by the sources' hash).

    Returns
    -------
    Path
        ``cache/kenning-server-<hash>.zip``.
    """
    files = _package_files()
    digest = hashlib.sha256()
    for path, arcname in files:
        digest.update(arcname.encode() + b"\0" + path.read_bytes())
    out = cache / f"kenning-server-{digest.hexdigest()[:12]}.zip"
    if not out.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, arcname in files:
                # fixed timestamps: the same sources give the same bytes
                info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        tmp.replace(out)
    return out


def _board_image_id(board: SSHExecutor, reference: str, step: str) -> str:
    """The ID of image ``reference`` in the board's Docker; empty when it has none."""
    quoted = shlex.quote(reference)
    script = f"docker image inspect --format '{{{{.Id}}}}' {quoted} 2>/dev/null || true"
    return board.output(script, step).strip()


def push_image(board: SSHExecutor, reference: str, client: Any = None) -> str:
    """Make the board's Docker hold image ``reference`` (``docker save | ssh docker load``).

    Returns
    -------
    str
        The image ID now on the board.

    Raises
    ------
    BoardError
        If the board has no working Docker, or loading fails.
    ImageNotFoundError
        If the image is not built here.
    """
    from kenning.executors.dockerclient import docker_errors, session

    with session(client) as active, docker_errors(reference):
        image = active.images.get(reference)
        step = f"pushing image {reference}"
        if _board_image_id(board, reference, step) == image.id:
            return str(image.id)
        size = int(image.attrs.get("Size", 0))
        _stream_load(board, image.save(named=True), size, step)
    there = _board_image_id(board, reference, step)
    if there != image.id:
        raise BoardError(board.board, step, f"the board has {there or 'nothing'} after loading")
    return str(image.id)


def _stream_load(
    board: SSHExecutor, chunks: Any, size: int, step: str, timeout: float | None = None
) -> None:
    """Stream ``chunks`` (a ``docker save``) into the board's ``docker load``.

    ``timeout`` is seconds for all of it: sending, loading, the exit status (default:
    :func:`~kenning.executors.ssh.channel.transfer_deadline` of ``size``).

    Raises
    ------
    BoardTimeoutError
        If ``docker load`` does not take it all and exit within ``timeout``.
    BoardError
        If ``docker load`` fails, or the board cannot be used.
    """
    deadline_s = transfer_deadline(size) if timeout is None else timeout
    with board.ssh_errors(step), progress(step, size or None) as advance:
        channel = board.transport(step).open_session(timeout=board.target.connect_timeout)
        done = run_command(
            channel,
            "docker load",
            board=board.board,
            step=step,
            deadline_s=deadline_s,
            stdin=chunks,
            sent=advance,
        )
    if done.exit_code != 0:
        raise BoardError(
            board.board,
            step,
            f"`docker load` exited with status {done.exit_code}",
            done.stderr.decode(errors="replace").splitlines(),
        )
