"""Leaderboard layout in headless Chromium: group toggles, unavailable metrics as one note, missing vs 0,
phantom banner, run page scores first, paginated sample viewer with the tokenised form on demand."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_leaderboard import write_run
from test_leaderboard_browser import Watch, _save, browser  # noqa: F401 - the browser fixture

from rrgbench.leaderboard import build_site

pytestmark = pytest.mark.browser


def test_board_and_run_layout(browser, tmp_path: Path) -> None:  # noqa: F811 - pytest fixture
    runs = tmp_path / "runs"
    write_run(runs, "big", dataset="toy_phantom", n=130, quality=0.8, unavailable=("radgraph",))
    write_run(runs, "small", dataset="toy_phantom", n=130, quality=0.2, unavailable=("radgraph",))
    site = tmp_path / "site"
    build_site(runs, site)
    page = browser.new_page(viewport={"width": 1350, "height": 900})
    watch = Watch(page)
    page.goto((site / "datasets" / "toy_phantom" / "index.html").as_uri())

    assert page.locator(".notice.phantom").is_visible()
    note = page.locator(".notice.unavail-note")
    assert "radgraph" in note.inner_text() and "rrgbench rescore --all --metrics radgraph" in note.inner_text()
    assert page.locator("#board td.unavail:visible").count() == 0  # no whole column of "unavailable"
    # every visible column fits in the frame: no horizontal scrolling in the default view
    width, frame = page.evaluate("() => [document.querySelector('#board').scrollWidth, "
                                 "document.querySelector('.tablewrap').clientWidth]")
    assert width <= frame
    ce = page.locator("#board thead tr.cols th[data-g='CE']:visible")
    assert ce.count() >= 1
    page.uncheck("input.grp[data-g='CE']")
    assert page.locator("#board thead tr.cols th[data-g='CE']:visible").count() == 0
    assert not page.locator("#board th[data-gh='CE']").is_visible()
    page.check("input.grp[data-g='CE']")
    assert page.locator("#board thead tr.cols th[data-g='CE']:visible").count() == ce.count()
    _save(page, tmp_path / "layout_board.png")
    watch.assert_clean(page)

    page.locator("#board a", has_text="seed 0").first.click()
    page.wait_for_url("**/runs/toy_phantom/**")
    assert page.evaluate("() => document.querySelector('h2').textContent") == "Scores"
    assert not page.locator("details.config .two").is_visible()  # run details collapsed
    rows = page.locator("#samples tbody tr:visible")
    assert rows.count() == 100 and page.inner_text("#s-page") == "page 1 of 2"
    page.click("#s-next")
    assert rows.count() == 30 and page.inner_text("#s-page") == "page 2 of 2"
    first = page.locator("#samples tbody tr:visible td.gen").first
    raw = first.inner_text()
    page.check("#s-tok")
    assert first.locator(".tok").is_visible() and not first.locator(".raw").is_visible()
    assert first.inner_text() != raw or raw == raw.lower()
    page.fill("#s-filter", "report 7")
    assert page.inner_text("#s-page") == "page 1 of 1"
    _save(page, tmp_path / "layout_run.png")
    watch.assert_clean(page)
    page.close()
