"""The command-line parser every kenning command builds: exact flags, secrets never echoed.

argparse takes any unambiguous prefix of a flag by default, so ``--secret HEX`` would be
read as ``--secret-file HEX`` and the error would print the secret. kenning's parsers take
flags only as written (``allow_abbrev=False``), and an error about unknown arguments shows
no value given to a ``--secret...`` or ``--password...`` word.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

#: words whose values an error never shows
_SENSITIVE = ("--secret", "--password", "--token")
HIDDEN = "(value not shown)"


def _sensitive(word: str) -> bool:
    return word.startswith(_SENSITIVE)


def redacted(words: Sequence[str]) -> list[str]:
    """``words`` with the value of every ``--secret...``-like word replaced by a mark."""
    shown: list[str] = []
    hide_next = False
    for word in words:
        if hide_next and not word.startswith("-"):
            shown.append(HIDDEN)
        elif _sensitive(word) and "=" in word:
            shown.append(f"{word.split('=', 1)[0]}={HIDDEN}")
        else:
            shown.append(word)
        hide_next = _sensitive(word) and "=" not in word
    return shown


class ArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that takes no abbreviations and hides secrets.

    Sub-command parsers made by ``add_subparsers().add_parser`` are of this class too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse like argparse; unknown arguments are named, a secret's value is not.

        Raises
        ------
        SystemExit
            With status 2 and argparse's usage, for arguments that are wrong or unknown.
        """
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            words = " ".join(redacted(extras))
            hint = ""
            if any(_sensitive(word) for word in extras):
                hint = "; a secret is given in a file: --secret-file PATH (mode 0600)"
            self.error(f"unrecognized arguments: {words}{hint}")
        return parsed
