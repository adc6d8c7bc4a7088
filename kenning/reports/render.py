"""Render results files into an RST, HTML or Markdown report with its plots.

The sections are built format-neutral (:mod:`kenning.reports.sections`,
:mod:`kenning.reports.comparison`), the plots are drawn into the image folder
(with a progress bar), and the Jinja2 templates of the chosen format in
``kenning/resources/templates/<format>/`` lay the lot out. An HTML report is
a self-contained folder: the page and, under it, its images.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kenning
from kenning.core.results import Results, load_results
from kenning.reports import ReportError, plots
from kenning.reports.comparison import comparison_section, entries
from kenning.reports.detection import detection_section
from kenning.reports.document import Figure
from kenning.reports.sections import classification_section, performance_section, run_section
from kenning.utils.errors import ConfigurationError, ResultsError
from kenning.utils.imports import require
from kenning.utils.progress import progress

FORMATS = ("rst", "html", "md")
REPORT_TYPES = ("performance", "classification", "comparison")
_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def output_format(output: Path, fmt: str | None = None) -> str:
    """The format asked for, else the one the output's suffix implies (RST by default)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ConfigurationError(f"unknown report format {fmt!r}; choose one of {FORMATS}")
        return fmt
    return _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "rst")


def load_all(sources: Sequence[Path]) -> list[tuple[Path, Results]]:
    """Read every results file, then report every one that failed at once.

    Raises
    ------
    ResultsError
        If any file is missing, not a results file or of an unknown schema version.
    """
    loaded, errors = [], []
    for source in sources:
        try:
            loaded.append((Path(source), load_results(Path(source))))
        except ResultsError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ResultsError(
            f"{len(errors)} of {len(sources)} results files cannot be read: "
            + "; ".join(str(e) for e in errors)
        )
    return loaded


@dataclass(frozen=True)
class Layout:
    """Where the report and its images go, and how the page refers to the images."""

    output: Path
    img_dir: Path
    fmt: str
    root_dir: Path | None = None

    @classmethod
    def check(cls, output: Path, img_dir: Path | None, root_dir: Path | None, fmt: str) -> Layout:
        """Resolve the paths and refuse layouts whose images the page could not find.

        Raises
        ------
        ConfigurationError
            If an HTML report's images would sit outside its folder, or an RST
            report's output or images outside ``root_dir``.
        """
        output = Path(output).resolve()
        images = Path(img_dir).resolve() if img_dir else output.parent / "img"
        root = Path(root_dir).resolve() if root_dir else None
        if fmt == "html" and not images.is_relative_to(output.parent):
            raise ConfigurationError(
                f"an HTML report is a self-contained folder: --img-dir {images} must be inside "
                f"{output.parent}, the folder of {output.name}"
            )
        if root is not None:
            for what, path in (("output", output), ("--img-dir", images)):
                if not path.is_relative_to(root):
                    raise ConfigurationError(f"{what} {path} is not inside --root-dir {root}")
        try:
            images.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create --img-dir {images}: {exc}") from exc
        return cls(output, images, fmt, root)

    def src(self, image: Path) -> str:
        """How the document refers to ``image``.

        RST with a root folder uses Sphinx's source-absolute form
        (``/generated/img/x.png``); everything else a path relative to the page.
        """
        if self.fmt == "rst" and self.root_dir is not None:
            return "/" + image.relative_to(self.root_dir).as_posix()
        return Path(os.path.relpath(image, self.output.parent)).as_posix()


def build_context(
    runs: list[tuple[Path, Results]], title: str, report_types: Sequence[str], stem: str
) -> tuple[dict[str, Any], list[Figure]]:
    """The template context and every figure it refers to."""
    unknown = sorted(set(report_types) - set(REPORT_TYPES))
    if unknown:
        raise ConfigurationError(f"unknown report types {unknown}; choose from {REPORT_TYPES}")
    several = len(runs) > 1
    keyed = entries(runs)
    context: dict[str, Any] = {"title": title, "comparison": None, "runs": []}
    figures: list[Figure] = []
    if several or "comparison" in report_types:
        context["comparison"] = comparison_section(keyed, f"{stem}_comparison")
        figures += context["comparison"]["figures"]
        if context["comparison"]["footprint"]:
            figures += context["comparison"]["footprint"]["figures"]
    for entry in keyed:
        results = entry.results
        caption = f"{entry.key}: " if several else ""
        part = f"{stem}_{entry.key.lower()}" if several else stem
        run: dict[str, Any] = {
            "heading": f"{entry.key}: {entry.label}" if several else None,
            "level": 2 if several else 1,
            "run": run_section(results, caption),
            "performance": None,
            "classification": None,
            "detection": None,
        }
        if "performance" in report_types:
            run["performance"] = perf = performance_section(results, caption, part)
            figures += perf["figures"]
            if perf["target"]:
                figures.append(perf["target"]["figure"])
            if perf["target_system"]:
                figures += perf["target_system"]["figures"]
        if "classification" in report_types and results.dataset.task == "detection":
            run["detection"] = detection_section(results, caption)
        elif "classification" in report_types:
            run["classification"] = quality = classification_section(results, caption, part)
            if quality["metrics"] is not None:
                figures.append(quality["figure"])
        context["runs"].append(run)
    return context, figures


def draw(figures: Sequence[Figure], layout: Layout) -> None:
    """Draw every figure into the image folder, showing progress.

    Raises
    ------
    ReportError
        If an image cannot be written.
    """
    with progress("rendering plots", len(figures)) as advance:
        for figure in figures:
            path = layout.img_dir / f"{figure.name}.png"
            try:
                plots.save(figure.draw(), path)
            except OSError as exc:
                raise ReportError(f"cannot write plot {path}: {exc}") from exc
            figure.src = layout.src(path)
            advance(1)


def _escape_rst(text: object) -> str:
    # "_" only marks a reference at the end of a word; elsewhere it stays readable
    out = re.sub(r"([\\*`|])", r"\\\1", " ".join(str(text).split()))
    out = re.sub(r"_+(?=\W|$)", lambda m: "\\_" * len(m.group()), out)
    if re.match(r"([-+*]|#\.|\d+[.)]|\(\d+\))(\s|$)|\.\.", out):
        out = "\\" + out
    return out


def _escape_md(text: object) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", " ".join(str(text).split()))


def template_environment(fmt: str) -> Any:
    """The Jinja2 environment of a format, with its ``esc`` filter and ``numeric`` test.

    Raises
    ------
    MissingDependencyError
        If Jinja2 is not installed.
    """
    jinja2 = require("jinja2", "reports")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kenning.resources", "templates"),
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    import markupsafe

    escapes = {"rst": _escape_rst, "md": _escape_md, "html": markupsafe.escape}
    env.filters["esc"] = escapes[fmt]
    env.tests["numeric"] = lambda text: bool(_NUMBER.match(str(text)))
    return env


def render_report(
    sources: Sequence[Path],
    title: str,
    output: Path,
    img_dir: Path | None = None,
    root_dir: Path | None = None,
    report_types: Sequence[str] = ("performance", "classification"),
    fmt: str | None = None,
) -> Path:
    """Render a report on one or more results files.

    Parameters
    ----------
    sources : sequence of Path
        Results files; with more than one, the report starts with a comparison.
    title : str
        The report's title.
    output : Path
        The page to write.
    img_dir : Path, optional
        Where plots go (default: ``img`` beside ``output``).
    root_dir : Path, optional
        Sphinx source folder: RST image paths are then written relative to it.
    report_types : sequence of str
        Any of ``performance``, ``classification``, ``comparison``.
    fmt : str, optional
        ``rst``, ``html`` or ``md``; by default from ``output``'s suffix, else RST.

    Returns
    -------
    Path
        The page written.

    Raises
    ------
    ResultsError
        If a results file cannot be read or has an unknown schema version.
    ConfigurationError
        If the paths or report types cannot work together.
    ReportError
        If a template fails or the report cannot be written.
    """
    if not sources:
        raise ConfigurationError("no results files given")
    fmt = output_format(output, fmt)
    runs = load_all(sources)
    layout = Layout.check(output, img_dir, root_dir, fmt)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", layout.output.stem) or "report"
    context, figures = build_context(runs, title, report_types, stem)
    draw(figures, layout)
    env = template_environment(fmt)
    jinja2 = require("jinja2", "reports")
    try:
        text = env.get_template(f"{fmt}/page.j2").render(
            **context, format=fmt, version=kenning.__version__
        )
    except jinja2.TemplateError as exc:
        raise ReportError(f"the {fmt} report template failed: {exc}") from exc
    try:
        tmp = layout.output.with_name(f".{layout.output.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(layout.output)
    except OSError as exc:
        raise ReportError(f"cannot write report {layout.output}: {exc}") from exc
    return layout.output
