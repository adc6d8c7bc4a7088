"""The HTML report, opened in headless Chromium (Debian's ``chromium``), shows every plot.

Chromium runs twice on a copy of the report folder (which also shows the
folder is self-contained: it works wherever it is moved): once to take a
screenshot, once to dump the DOM after the page's load event, with a probe
script added to the copy that records, for each ``<img>``, whether it loaded
and its natural size. Each must have loaded at the size of its PNG file.
"""

from __future__ import annotations

import html.parser
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from capabilities import missing
from conftest_report import render, shared_report_runs  # noqa: F401
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    img.setAttribute("data-complete", String(img.complete));
    img.setAttribute("data-natural", img.naturalWidth + "x" + img.naturalHeight);
  }
  document.body.setAttribute("data-probed", String(document.images.length));
});
</script>
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        missing("chromium", "Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _Images(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "body":
            self.body = dict(attrs)


def _png_size(path: Path) -> str:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return f"{width}x{height}"


@pytest.fixture(scope="module")
def report_folder(
    report_runs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A comparison of the three real runs as HTML, then moved to another folder."""
    made = tmp_path_factory.mktemp("html_report") / "site"
    sources = [report_runs[k] for k in ("torch", "tf", "torch_batch8")]
    render(*sources, "Digits comparison", made / "index.html")
    moved = tmp_path_factory.mktemp("moved") / "report"
    shutil.move(made, moved)
    return moved


def test_every_image_loads_in_chromium(chromium: str, report_folder: Path, tmp_path: Path) -> None:
    page = (report_folder / "index.html").read_text()
    probe = tmp_path / "probe"
    shutil.copytree(report_folder, probe)
    (probe / "index.html").write_text(page.replace("</body>", PROBE + "</body>"))
    done = _chromium(
        chromium,
        tmp_path / "profile",
        "--virtual-time-budget=15000",
        "--dump-dom",
        (probe / "index.html").as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Images()
    dom.feed(done.stdout)
    pngs = sorted((report_folder / "img").glob("*.png"))
    assert dom.body.get("data-probed") == str(len(pngs)) == str(len(dom.images))
    assert len(pngs) == 7 + 3 * 4
    for img in dom.images:
        src = str(img["src"])
        assert "://" not in src and not src.startswith("/"), f"{src} is not inside the folder"
        assert img.get("data-complete") == "true", src
        assert img.get("data-natural") == _png_size(probe / src), src


def test_screenshot_shows_the_report(chromium: str, report_folder: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(
        chromium,
        tmp_path / "profile",
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        (report_folder / "index.html").as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        pixels = image.convert("RGB").resize((320, 600))
        colours = pixels.getcolors(maxcolors=320 * 600)
    assert colours is not None
    white = sum(n for n, c in colours if min(c) > 245)
    # text, tables and the first plots: well over a tenth of the page is not blank
    assert white < 0.9 * 320 * 600
    # matplotlib's first colours (tab:blue, tab:orange) are drawn: the plots are there
    near = {(31, 119, 180): 0, (255, 127, 14): 0}
    for n, (r, g, b) in colours:
        for ref in near:
            if abs(r - ref[0]) + abs(g - ref[1]) + abs(b - ref[2]) < 40:
                near[ref] += n
    assert all(count > 50 for count in near.values()), near


FIT = """<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const over = [];
  for (const table of document.querySelectorAll("table")) {
    if (table.getBoundingClientRect().right > width + 1) {
      over.push(table.querySelector("caption").textContent);
    }
  }
  const verdicts = [...document.querySelectorAll('td[data-label="Verdict"]')];
  const shown = verdicts.filter((td) => td.getBoundingClientRect().right <= width + 1);
  document.body.setAttribute("data-page", String(document.documentElement.scrollWidth));
  document.body.setAttribute("data-width", String(width));
  document.body.setAttribute("data-over", over.join("|"));
  document.body.setAttribute("data-verdicts", shown.length + "/" + verdicts.length);
});
</script>
"""


@pytest.mark.parametrize("width", [1400, 800])
def test_every_table_fits_the_window(
    chromium: str, report_folder: Path, tmp_path: Path, width: int
) -> None:
    # the comparison once overflowed a 1,400 px window, hiding Agreement and Verdict: it is
    # split (figures; judgements) and a wide table stacks, a block per run, on a narrow window
    page = (report_folder / "index.html").read_text()
    probe = tmp_path / "probe"
    shutil.copytree(report_folder, probe)
    (probe / "index.html").write_text(page.replace("</body>", FIT + "</body>"))
    done = _chromium(
        chromium,
        tmp_path / "profile",
        f"--window-size={width},1000",
        "--virtual-time-budget=15000",
        "--dump-dom",
        (probe / "index.html").as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Images()
    dom.feed(done.stdout)
    body = dom.body
    assert body.get("data-width") == str(width), body
    assert body.get("data-over") == "", f"tables wider than {width} px: {body.get('data-over')}"
    assert int(str(body.get("data-page"))) <= width, body  # no sideways scrolling
    assert body.get("data-verdicts") == "3/3", body  # every run's verdict in sight
