"""The HTML report of the tiny run, opened in a real browser (headless Chromium).

The tiny DAG (the `tiny_run` fixture of conftest.py, shared with test_workflow.py)
ends with results/report.html. Chromium renders it, a screenshot must not be blank,
and a probe script, injected into a copy of the page, opens every category and
subcategory of the report's menu as a reader would, records what the menu then
lists and checks that every figure decodes.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO, TINY, run_snakemake

pytestmark = pytest.mark.workflow

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)  # fmt: skip
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium); .ci/run installs it"
)
# The report's sections: its menu categories, numbered in pipeline order (REPORT_CATEGORIES in common.smk).
SECTIONS = ["Overview", "Data", "Pretraining", "Fine-tuning", "Interpretation", "Cost"]

# Runs after the report's own scripts: opens each category and subcategory in turn (as clicking the
# menu does), keeps the menu's text, loads every image result, and writes it all as JSON into the page.
PROBE = """
<script>
window.addEventListener("load", async () => {
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let i = 0; i < 100 && !document.querySelector("nav"); i++) await pause(100);  // React renders
  const probe = {menu: document.querySelector("nav").innerText, categories: {}, images: {}};
  const open = async (category, subcategory) => {  // from the main menu, as a reader clicks
    app.setView({navbarMode: "menu"});
    await pause(100);
    app.showCategory(category);
    await pause(100);
    if (subcategory !== undefined && app.state.navbarMode !== "subcategory") {
      app.setView({navbarMode: "subcategory", category: category, subcategory: subcategory});
      await pause(100);
    }
    return document.querySelector("nav").innerText;
  };
  for (const category of Object.keys(categories).sort()) {
    probe.categories[category] = {menu: await open(category), subcategories: {}};
    for (const subcategory of Object.keys(categories[category]).sort()) {
      probe.categories[category].subcategories[subcategory] = await open(category, subcategory);
    }
  }
  for (const [path, result] of Object.entries(results)) {
    if (!result.mime_type.startsWith("image/")) continue;
    const image = new Image();
    const loaded = new Promise((resolve) => { image.onload = resolve; image.onerror = resolve; });
    image.src = result.data_uri;
    await loaded;
    probe.images[path] = image.naturalWidth;
  }
  const out = document.createElement("pre");
  out.id = "report-probe";
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});
</script>
"""


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local file (as root: no sandbox), with time for the page's scripts."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=60000",
               *args, page.resolve().as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def report(tiny_run) -> Path:
    path = tiny_run / "results" / "report.html"
    assert path.is_file() and path.stat().st_size > 100_000
    return path


def embedded_json(html: str, name: str) -> dict:
    """A `var name = {...};` object the Snakemake report embeds in its page."""
    match = re.search(rf'<script id="{name}">\s*var {name} = (.*?);\s*</script>', html, flags=re.S)
    assert match, f"no var {name} in the report"
    return json.loads(match.group(1))


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']?(?:https?:)?//", html, flags=re.I)
    results = embedded_json(html, "results")
    assert results and all(r["data_uri"].startswith("data:") for r in results.values())
    # The report shows images, HTML pages and PDFs; anything else (a .tsv) a reader would have to download.
    hidden = {path: r["mime_type"] for path, r in results.items()
              if r["mime_type"] not in ("image/png", "image/svg+xml", "image/jpeg", "text/html", "application/pdf")}
    assert not hidden, f"results the report cannot display (write them as .html or .png): {hidden}"
    # The report's own tables are complete HTML pages with their numbers inside.
    pages = {path: base64.b64decode(r["data_uri"].split(",", 1)[1]).decode("utf-8")
             for path, r in results.items() if r["mime_type"] == "text/html"}  # fmt: skip
    overview = pages["results/report/overview.html"]
    for text in ("SHA-256", "JASPAR2024", "git commit" if (REPO / ".git").exists() else "not a git checkout",
                 "transformers", "snakemake"):  # fmt: skip
        assert text in overview, text
    assert "MCC" in pages["results/report/finetuning/test_metrics.html"]
    assert "peak memory" in pages["results/report/cost/cost.html"]


def test_report_sections_hold_every_stage(report):
    categories = embedded_json(report.read_text(encoding="utf-8"), "categories")
    names = {re.sub(r"^\d+\.\s*", "", name): name for name in categories}
    assert set(SECTIONS) <= set(names), sorted(names)
    tasks = list(yaml.safe_load(Path(TINY).read_text())["tasks"])

    def files(section: str, subcategory: str) -> set[str]:
        return {Path(path).name for path in categories[names[section]].get(subcategory, [])}

    assert files("Overview", "Other") == {"overview.html"}
    assert {"loss.png", "metrics.html"} <= files("Pretraining", "Other")
    assert {"summary.png", "test_metrics.html"} <= files("Fine-tuning", "all tasks")
    assert {"cost.html", "cost.png"} <= files("Cost", "Other")
    for task in tasks:
        assert {"gc_content.png", "dataset.html"} <= files("Data", task), task
        assert {"roc_pr_curves.png", "confusion_matrices.png"} <= files("Fine-tuning", task), task
    # Interpretation: the peaks task (ctcf) and, on the simulated genome, the planted-motif table.
    assert {"heatmap.png", "profile.png", "logos.png", "motifs.html", "ism.png"} <= files("Interpretation", "ctcf")
    assert files("Interpretation", "planted motifs") == {"recovery.html"}


@needs_chromium
def test_report_renders_in_chromium(report, tmp_path):
    screenshot = tmp_path / "report.png"
    result = chromium(report, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1400,900")
    assert screenshot.is_file(), result.stderr[-3000:]
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float64)
    assert pixels.shape == (900, 1400)
    # Not blank: the menu, the text and the rule graph cover a good part of the page in many shades.
    assert pixels.std() > 20 and (pixels < 200).mean() > 0.02 and len(np.unique(pixels)) > 50

    page = tmp_path / "probed.html"
    head, tail = report.read_text(encoding="utf-8").rsplit("</body>", 1)  # scripts above hold "</body>" too
    page.write_text(head + PROBE + "</body>" + tail, encoding="utf-8")
    dom = chromium(page, tmp_path / "profile", "--dump-dom").stdout
    match = re.search(r'<pre id="report-probe">(.*?)</pre>', dom, flags=re.S)
    assert match, "the report's scripts did not run to the end (no probe output)"
    import html as html_lib

    probe = json.loads(html_lib.unescape(match.group(1)))
    for section in SECTIONS:
        assert section in probe["menu"], (section, probe["menu"])
    categories = embedded_json(report.read_text(encoding="utf-8"), "categories")
    results = embedded_json(report.read_text(encoding="utf-8"), "results")
    assert set(probe["categories"]) == set(categories)
    for category, seen in probe["categories"].items():
        # Each category opens onto its subcategories (or its one subcategory's results) ...
        subcategories = categories[category]
        if len(subcategories) > 1:
            assert all(name in seen["menu"] for name in subcategories), (category, seen["menu"])
        # ... and each subcategory lists its results: by their labels where all of them have labels, else by path.
        for subcategory, paths in subcategories.items():
            menu = seen["subcategories"][subcategory]
            labelled = all(results[path].get("labels") for path in paths)
            shown = [all(value in menu for value in results[path]["labels"].values()) if labelled else path in menu
                     for path in paths]  # fmt: skip
            assert all(shown), (category, subcategory, paths, menu)
    # Every figure decodes in the browser.
    assert probe["images"] and all(width > 100 for width in probe["images"].values()), probe["images"]


def test_report_is_rebuilt_by_snakemake_report(tiny_run, tmp_path):
    """`snakemake --report` typed by a user on the finished run works, and leaves nothing to redo."""
    target = tmp_path / "again.html"
    run_snakemake(tiny_run, "--report", str(target), "--configfile", TINY)
    assert target.stat().st_size > 100_000
    result = run_snakemake(tiny_run, "-n", "--configfile", TINY)
    assert "Nothing to be done" in result.stdout + result.stderr
