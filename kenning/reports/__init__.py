"""Reports rendered from results files: RST, HTML or Markdown, with plots.

One concept per module:

* :mod:`~kenning.reports.stats` turns a results file into series and their summaries,
* :mod:`~kenning.reports.metadata` names a run from its own metadata (model, runtime, board),
* :mod:`~kenning.reports.comparison` lines several results files up (table, Pareto front),
* :mod:`~kenning.reports.document` holds the format-neutral tables and figures,
* :mod:`~kenning.reports.sections` builds each report section from the above,
* :mod:`~kenning.reports.plots` draws the figures (matplotlib, Agg, imported lazily),
* :mod:`~kenning.reports.render` fills the Jinja2 templates in ``kenning/resources/templates``.

The entry point is :func:`kenning.reports.render.render_report`; the command line
is ``python -m kenning.scenarios.render_report``.
"""

from __future__ import annotations

from kenning.utils.errors import KenningError


class ReportError(KenningError):
    """A report that cannot be rendered or written.

    Parameters
    ----------
    message : str
        What went wrong and what to do.
    """
