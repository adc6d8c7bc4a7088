"""Declarative command-line arguments shared by every kenning class.

A class lists its flags in ``arguments_structure``; :class:`ArgumentsHandler`
turns them into an argparse group (``form_argparse``) and back into
constructor keyword arguments (``from_argparse``). Subclasses inherit their
parents' flags and may redeclare one to change its default or help.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

_REQUIRED = object()

T = TypeVar("T", bound="ArgumentsHandler")


@dataclass(frozen=True)
class Arg:
    """One command-line flag and the constructor parameter it fills.

    Parameters
    ----------
    flag : str
        The flag, e.g. ``"--model-path"``.
    type : callable
        Converts the string value; ``bool`` makes a ``store_true`` switch.
    default : object
        Default value; leave unset to make the flag required.
    help : str
        One line for ``-h``.
    choices : sequence, optional
        Allowed values.
    nargs : str, optional
        argparse ``nargs`` (``"+"`` or ``"*"`` for lists).
    param : str, optional
        Constructor parameter name; derived from the flag when empty.
    """

    flag: str
    type: Callable[[str], Any] = str
    default: Any = _REQUIRED
    help: str = ""
    choices: Sequence[Any] | None = None
    nargs: str | None = None
    param: str = field(default="")

    @property
    def dest(self) -> str:
        """Attribute name in the parsed namespace."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def parameter(self) -> str:
        """Constructor keyword the value is passed as."""
        return self.param or self.dest

    @property
    def required(self) -> bool:
        """Whether the flag has no default."""
        return self.default is _REQUIRED

    def add_to(self, group: argparse._ArgumentGroup) -> None:
        """Add this flag to an argparse group."""
        if self.type is bool:
            group.add_argument(self.flag, dest=self.dest, action="store_true", help=self.help)
            return
        kwargs: dict[str, Any] = {"dest": self.dest, "type": self.type, "help": self.help}
        if self.choices is not None:
            kwargs["choices"] = list(self.choices)
        if self.nargs is not None:
            kwargs["nargs"] = self.nargs
        if self.required:
            kwargs["required"] = True
        else:
            kwargs["default"] = self.default
            if self.default not in (None, [], ""):
                kwargs["help"] = f"{self.help} (default: %(default)s)"
        group.add_argument(self.flag, **kwargs)


class ArgumentsHandler:
    """Base for every class that contributes flags to a scenario.

    Subclasses set ``arguments_structure`` to a tuple of :class:`Arg`; the
    constructor must accept each flag's ``parameter`` as a keyword.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = ()

    @classmethod
    def arguments(cls) -> list[Arg]:
        """All flags of the class, parents first, later declarations winning."""
        merged: dict[str, Arg] = {}
        for klass in reversed(cls.__mro__):
            for arg in vars(klass).get("arguments_structure", ()):
                merged[arg.flag] = arg
        return list(merged.values())

    @classmethod
    def form_argparse(cls, parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
        """Add this class's flags to ``parser`` as one titled group.

        A flag another class already added is shared rather than duplicated:
        both classes receive the same value.

        Parameters
        ----------
        parser : argparse.ArgumentParser
            The scenario's parser.

        Returns
        -------
        argparse._ArgumentGroup
            The group holding the class's flags.
        """
        doc = (cls.__doc__ or "").strip().splitlines()
        group = parser.add_argument_group(cls.__name__, doc[0] if doc else None)
        for arg in cls.arguments():
            if arg.flag not in parser._option_string_actions:
                arg.add_to(group)
        return group

    @classmethod
    def params_from_namespace(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Constructor keywords taken from a parsed namespace."""
        return {
            a.parameter: getattr(args, a.dest) for a in cls.arguments() if hasattr(args, a.dest)
        }

    @classmethod
    def from_argparse(cls: type[T], args: argparse.Namespace, *posargs: Any, **extra: Any) -> T:
        """Build an instance from parsed flags.

        Parameters
        ----------
        args : argparse.Namespace
            Result of parsing a parser that ``form_argparse`` filled.
        *posargs, **extra
            Passed to the constructor before and beside the flags (e.g. the dataset).

        Returns
        -------
        ArgumentsHandler
            The new instance.
        """
        return cls(*posargs, **cls.params_from_namespace(args), **extra)
