"""Which environment a recorded step runs again in, and the checks that say where it came from.

A step whose image was pushed re-runs in exactly that image, pulled by digest; one never pushed
re-runs in the image now built under its name (a rebuilt one is named, with the lock file that
changed); a local step compares the kenning commit. Used by
:mod:`kenning.toolchain.reproduce.rerun`.
"""

from __future__ import annotations

from typing import Any

from kenning.executors.base import ExecutionRecord
from kenning.executors.errors import ImageNotFoundError
from kenning.toolchain.reproduce.verdict import Check
from kenning.utils.errors import KenningError
from kenning.utils.provenance import git_commit


def environment_checks(name: str, record: ExecutionRecord, client: Any = None) -> list[Check]:
    """Check that step ``name`` would run in the environment it ran in."""
    if record.executor == "docker" and record.image:
        from kenning.toolchain.images.info import image_differences

        try:
            changes = image_differences(record, client)
        except ImageNotFoundError as exc:
            return [Check(f"{name}: image", record.image, "not built", str(exc), ok=False)]
        if changes:
            return [
                Check(
                    f"{name}: image", _short(record.image_id), "rebuilt", f"differs: {c}", ok=False
                )
                for c in changes
            ]
        return [
            Check(
                f"{name}: image {record.image}",
                _short(record.image_id),
                _short(record.image_id),
                "same image",
                ok=True,
            )
        ]
    now = git_commit()
    if record.git_commit == now:
        dirty = (now or "").endswith("+dirty")
        return [
            Check(
                f"{name}: kenning code",
                _short(now),
                _short(now),
                "same commit, with uncommitted changes" if dirty else "same commit",
                ok=True,
                warning=dirty,
            )
        ]
    return [
        Check(
            f"{name}: kenning code",
            _short(record.git_commit),
            _short(now),
            "differs (local step: runs this code)",
            ok=True,
            warning=True,
        )
    ]


def published_image(
    name: str, record: ExecutionRecord, client: Any = None
) -> tuple[str | None, list[Check]]:
    """The image step ``name`` re-runs in, and the checks that say where it came from.

    A step whose image was pushed re-runs in exactly that image, pulled by digest when this
    machine does not have it. A step whose image was never pushed re-runs in the image now
    built under the same name (``None`` here), checked by :func:`environment_checks`, with a
    warning that no other machine can reproduce it.
    """
    from kenning.toolchain.images.registry import published_reference, pull_image

    reference = None
    if record.executor == "docker" and record.image:
        reference = published_reference(record.repo_digests, record.environment or "")
    if reference is None:
        checks = environment_checks(name, record, client)
        if record.executor == "docker":
            checks.append(
                Check(
                    f"{name}: published",
                    "never pushed",
                    "-",
                    "the image was never pushed to a registry: only a machine that has it can "
                    "reproduce this (invoke images --push before the run)",
                    ok=True,
                    warning=True,
                )
            )
        return None, checks
    try:
        image_id, pulled = pull_image(reference, client=client)
    except KenningError as exc:
        return None, [Check(f"{name}: image", reference, "unavailable", str(exc), ok=False)]
    how = f"pulled {reference}" if pulled else f"same image ({reference})"
    if image_id == record.image_id:
        return reference, [
            Check(f"{name}: image", _short(record.image_id), _short(image_id), how, ok=True)
        ]
    # the record and its published image disagree: say what differs from the image built now
    mismatch = Check(
        f"{name}: image",
        _short(record.image_id),
        _short(image_id),
        f"{how} has another image ID than the record",
        ok=False,
    )
    return reference, [mismatch, *environment_checks(name, record, client)]


def _short(value: str | None) -> str:
    text = (value or "none").removeprefix("sha256:")
    return text[:12] + ("+dirty" if text.endswith("+dirty") else "")
