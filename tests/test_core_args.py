import argparse
from pathlib import Path
from typing import ClassVar

import pytest

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.registry import load_class, short_names
from kenning.utils.errors import UnknownClassError


class Base(ArgumentsHandler):
    """Base for tests."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--model-path", Path, help="model"),
        Arg("--size", int, 3, "a size"),
    )

    def __init__(self, model_path: Path, size: int = 3, extra: str = "") -> None:
        self.model_path, self.size, self.extra = model_path, size, extra


class Child(Base):
    """Child redeclares a default and adds a switch."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--size", int, 7, "a bigger size"),
        Arg("--fast", bool, help="go fast"),
    )

    def __init__(
        self, model_path: Path, size: int = 7, fast: bool = False, extra: str = ""
    ) -> None:
        super().__init__(model_path, size, extra)
        self.fast = fast


class Other(ArgumentsHandler):
    """Shares --model-path with Base."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (Arg("--model-path", Path, help="again"),)

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path


def test_inherited_and_overridden_flags() -> None:
    flags = {a.flag: a for a in Child.arguments()}
    assert list(flags) == ["--model-path", "--size", "--fast"]
    assert flags["--size"].default == 7


def test_from_argparse_builds_instance_with_extra_keywords() -> None:
    parser = argparse.ArgumentParser()
    Child.form_argparse(parser)
    args = parser.parse_args(["--model-path", "m.pth", "--fast"])
    obj = Child.from_argparse(args, extra="x")
    assert (obj.model_path, obj.size, obj.fast, obj.extra) == (Path("m.pth"), 7, True, "x")


def test_required_flag_is_enforced() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    Base.form_argparse(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_shared_flag_is_added_once_and_given_to_both() -> None:
    parser = argparse.ArgumentParser()
    Base.form_argparse(parser)
    Other.form_argparse(parser)  # would raise argparse.ArgumentError if duplicated
    args = parser.parse_args(["--model-path", "shared.pth"])
    assert Base.from_argparse(args).model_path == Other.from_argparse(args).model_path


def test_groups_are_titled_by_class() -> None:
    parser = argparse.ArgumentParser()
    Child.form_argparse(parser)
    assert "Child" in parser.format_help()
    assert "(default: 7)" in parser.format_help()


def test_registry_short_and_dotted_names() -> None:
    digits = load_class("digits", "dataset")
    assert digits is load_class("kenning.datasets.digits.DigitsDataset", "dataset")
    assert "digits" in short_names("dataset")


@pytest.mark.parametrize(
    ("name", "family", "fragment"),
    [
        ("nope", "dataset", "valid short names: digits, folder, pet, shapes, synthetic"),
        ("kenning.datasets.digits.Missing", "dataset", "has no class Missing"),
        ("kenning.nothing_here.Cls", "dataset", "cannot import kenning.nothing_here"),
        ("kenning.datasets.digits.DigitsDataset", "modelwrapper", "is not a ModelWrapper"),
    ],
)
def test_registry_errors_name_the_problem(name: str, family: str, fragment: str) -> None:
    with pytest.raises(UnknownClassError) as err:
        load_class(name, family)
    assert fragment in str(err.value)
    assert name in str(err.value)
