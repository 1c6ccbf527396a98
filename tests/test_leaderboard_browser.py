"""The built site in headless Chromium: sorting, the sample viewer, untrusted text, a screenshot.

Needs Debian's ``chromium`` (setup installs it) driven by the ``playwright`` package; skipped with a reason
only where no browser can be found. Screenshots go to the test's tmp dir, and also to
``$RRGBENCH_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_leaderboard import XSS_SCRIPT, data_env, standard_runs  # noqa: F401 - data_env is autouse

from rrgbench.leaderboard import build_site

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _chromium() -> str | None:
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (install it: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watch:
    """Records what would show that injected markup ran, or that a page reached the network."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.remote: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else self.remote.append(r.url))

    def assert_clean(self, page) -> None:
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert self.errors == [] and self.dialogs == [] and self.remote == []


def _save(page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("RRGBENCH_SCREENSHOTS"):
        dest = Path(os.environ["RRGBENCH_SCREENSHOTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / path.name)
    assert path.stat().st_size > 10_000
    return path


def _column_values(page, col: str) -> list[str]:
    return page.eval_on_selector_all(
        f'#board tbody tr td[data-col="{col}"]', "cells => cells.map(c => c.getAttribute('data-v'))")


def test_site_in_chromium(browser, tmp_path: Path) -> None:
    runs = standard_runs(tmp_path, evil=True)
    site = tmp_path / "site"
    build_site(runs, site)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page)

    # index → dataset page
    page.goto((site / "index.html").as_uri())
    page.locator("main a", has_text="synthetic").first.click()
    page.wait_for_url("**/datasets/synthetic/index.html")

    # click a BLEU-4 header: rows sort by it, descending, then ascending on a second click
    methods = lambda: _column_values(page, "method")  # noqa: E731
    before = methods()
    assert before == ["alpha", "beta", "gamma"]
    header = page.locator("#board thead tr.cols th", has_text="BLEU-4").first
    col = header.get_attribute("data-col")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    vals = [float(v) for v in _column_values(page, col) if v]
    assert vals == sorted(vals, reverse=True) and len(vals) >= 2
    first = methods()
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    second = methods()
    assert second != first and second != before
    vals = [float(v) for v in _column_values(page, col) if v]
    assert vals == sorted(vals)
    assert _column_values(page, col)[-1] == ""  # the row without this signature sorts last, never pooled

    # "show all metrics" reveals the non-headline columns
    extra = page.locator("#board thead tr.cols th.x").first
    assert not extra.is_visible()
    page.check("#show-all")
    assert extra.is_visible()
    _save(page, tmp_path / "leaderboard_dataset.png")
    watch.assert_clean(page)

    # a run's sample viewer (beta: one seed, hostile report text)
    row = page.locator("#board tbody tr", has_text="beta")
    row.locator("a", has_text="seed 0").click()
    page.wait_for_url("**/runs/synthetic/beta/**")
    samples = page.locator("#samples tbody tr")
    assert samples.count() == 6
    generated = page.locator("#samples td.gen", has_text="window.__pwned").first
    assert XSS_SCRIPT in generated.inner_text()  # shown as text
    assert page.locator('img[src="x"]').count() == 0 and page.locator("#samples script").count() == 0

    # sort: worst BLEU-4 first by default, best first on request; the sort key is highlighted
    def bleu4() -> list[float]:
        key = page.eval_on_selector("#s-sort", "s => s.value").split("|")[0]
        return [float(x) for x in page.eval_on_selector_all(
            "#samples tbody tr", f"rs => rs.map(r => r.getAttribute('data-s-{key}'))")]

    assert "BLEU-4" in page.eval_on_selector("#s-sort", "s => s.options[s.selectedIndex].text")
    worst_first = bleu4()
    assert worst_first == sorted(worst_first)
    value = page.eval_on_selector("#s-sort", "s => s.value").replace("asc", "desc")
    page.select_option("#s-sort", value)
    assert bleu4() == sorted(worst_first, reverse=True)
    assert page.locator("#samples .scs span.hl").count() >= 2

    # filter and disagreement toggle
    page.fill("#s-filter", "report 3")
    assert page.locator("#samples tbody tr:not(.hidden)").count() == 1
    assert page.inner_text("#s-count").startswith("1 of 6")
    page.fill("#s-filter", "")
    page.check("#s-dis")
    shown = page.locator("#samples tbody tr:not(.hidden)").count()
    assert 0 < shown <= 6 and page.locator("#samples tbody tr:not(.hidden) .lab.dis").count() >= shown

    # thumbnails load from file://
    img = page.locator("#samples img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    page.uncheck("#s-dis")
    _save(page, tmp_path / "leaderboard_run.png")
    watch.assert_clean(page)

    # defence in depth: even markup that bypassed escaping could not run (CSP allows only our script)
    page.evaluate("""() => { const d = document.createElement('div');
        d.innerHTML = '<img src=x onerror="window.__pwned=1"><a href="javascript:window.__pwned=2">x</a>';
        document.body.appendChild(d); d.querySelector('a').click(); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.close()
    # control: the same injection on a page without that policy does run, so the check above means something
    bare = browser.new_page()
    bare.set_content("<p>no policy</p>")
    bare.evaluate("""() => { const d = document.createElement('div');
        d.innerHTML = '<img src=x onerror="window.__pwned=1">'; document.body.appendChild(d); }""")
    bare.wait_for_function("() => window.__pwned === 1")
    bare.close()


@pytest.mark.slow
def test_site_from_a_real_majority_run(browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rrgbench run --method majority --dataset synthetic`, then the site, then the browser."""
    env = {**os.environ, "RRGBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    runs = tmp_path / "runs"
    cli = [sys.executable, "-m", "rrgbench.cli"]
    res = subprocess.run([*cli, "run", "--method", "majority", "--dataset", "synthetic", "--metrics",
                          "nlg,chexpert_rules", "--limit", "12", "--bootstrap", "200", "--runs-dir", str(runs)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = tmp_path / "site"
    res = subprocess.run([*cli, "leaderboard", "--runs-dir", str(runs), "--out", str(out), "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)
    assert summary["datasets"] == ["synthetic"] and summary["runs"] == 1
    board = json.loads((out / "datasets/synthetic/leaderboard.json").read_text())
    keys = {c["key"] for c in board["columns"]}
    assert {"bleu_4", "cider", "ce_f1_micro"} <= keys
    assert all(c["signature"].startswith(("metric:nlg", "labeler:chexpert_rules")) for c in board["columns"])
    run_page = next(out.glob("runs/synthetic/majority/*/index.html"))
    again = tmp_path / "again"
    monkeypatch.setenv("RRGBENCH_CACHE", env["RRGBENCH_CACHE"])
    build_site(runs, again)  # in-process this time: same bytes
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        other = (again / path.relative_to(out)).read_bytes().split(b"\n")
        mine = path.read_bytes().split(b"\n")
        assert [x for x in mine if b"generated-at:" not in x] == [x for x in other if b"generated-at:" not in x], path

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page)
    page.goto(run_page.as_uri())
    assert page.locator("#samples tbody tr").count() == 12
    assert page.locator("svg").count() >= 2  # score bars and per-label F1
    assert page.locator("#samples img").count() == 24  # two phantom views per study
    _save(page, tmp_path / "leaderboard_real_run.png")
    watch.assert_clean(page)
    page.close()
