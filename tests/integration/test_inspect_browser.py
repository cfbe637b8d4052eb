"""The inspect page as a person sees it: loaded in headless Chromium (Debian's `chromium`, driven by
playwright), with a run folder evaluated by the real evaluate job; and the page of an s3:// run."""

from __future__ import annotations

import os
import re
from html import unescape

import pytest

from judgelm_ray import storage
from judgelm_ray.evaluate.inspect_page import write_inspect_page
from judgelm_ray.evaluate.run import evaluate
from support.judgments import judgment, write_run

CHROMIUM = "/usr/bin/chromium"
# What works here as root, with nothing reachable: no sandbox, no GPU, no background traffic.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ATTACK = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'
DIALOGUE = [{"role": "user", "content": "Is Stone Town an island?"},
            {"role": "assistant", "content": "It is on <Unguja>, the main island."}]


def run_rows() -> list[list[dict]]:
    """Two files: agreeing rows, order-inconsistent ones, a parse failure, gold disagreements, a hostile answer."""
    agree = [judgment(f"ok-{i}", f"{8 + i % 2} {2 + i % 3}\nclearly better", gold_scores=[9.0, 2.0])
             for i in range(6)]
    inconsistent = [judgment(f"flip-{i}", "8 3", "8 3", gold_scores=[9.0, 2.0]) for i in range(2)]
    failure = [judgment("broken", "I cannot decide", gold_scores=[9.0, 2.0])]
    wrong = [judgment("wrong-1", "3 9\nthe second", gold_scores=[9.0, 2.0]),
             judgment("wrong-2", "2 7", question="What is the capital of Zanzibaria?", gold_scores=[8.0, 3.0],
                      reference="Stone Town", template="judgelm", turns=DIALOGUE)]
    hostile = [judgment("hostile", "7 6", answers=(ATTACK, "plain"), gold_scores=[9.0, 2.0])]
    return [agree + inconsistent, failure + wrong + hostile]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium context with a fresh profile; skips, naming what is missing, where there is none."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium package (`make test` does, as root with apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1400, "height": 1000})
        yield context
        context.close()


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory) -> tuple[str, dict]:
    run = write_run(str(tmp_path_factory.mktemp("inspect") / "run"), run_rows())
    result = evaluate(storage.join(run, "judgments"), storage.join(run, "eval"), bootstrap=50)
    return run, result


def open_page(browser, path: str):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"file://{path}")
    page.wait_for_load_state("load")
    return page, requests


def visible_ids(page) -> list[str]:
    return page.eval_on_selector_all("tbody.item:not([hidden])", "items => items.map(i => i.dataset.id)")


def test_page_shows_metrics_plots_counts_and_filters(browser, evaluated_run):
    run, result = evaluated_run
    page, requests = open_page(browser, write_inspect_page(run))
    try:
        metrics = dict(page.eval_on_selector_all(
            "#metrics tr", "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])"))
        assert metrics["agreement %"] == f"{100 * result['agreement']:.2f}"
        assert metrics["consistency %"] == f"{100 * result['consistency']:.2f}"
        assert metrics["rows evaluated"] == "12"
        widths = page.eval_on_selector_all("#plots img", "images => images.map(i => i.complete && i.naturalWidth)")
        assert len(widths) == 4 and all(w > 100 for w in widths)  # 3 from eval/ + the score margins, decoded

        counts = dict(page.eval_on_selector_all(
            "span.count", "spans => spans.map(s => [s.dataset.category, s.innerText])"))
        assert counts == {"inconsistent": "2", "parse_failure": "1", "gold_disagreement": "2", "close_call": "11"}
        assert page.inner_text("#shown") == "12"  # every row: all but one are among the 11 scored ones

        for box in ("inconsistent", "gold_disagreement", "close_call"):
            page.uncheck(f"input[value={box}]")
        assert visible_ids(page) == ["broken"] and page.inner_text("#shown") == "1"
        page.click("#only-all")
        page.fill("#search", "zanzibaria")
        assert visible_ids(page) == ["wrong-2"]
        page.fill("#search", "")
        page.click("#only-none")
        assert visible_ids(page) == []

        # The hostile answer is shown as text and never ran; the page fetched nothing.
        page.click("#only-all")
        page.click("#expand")
        assert ATTACK in page.inner_text('tbody[data-id="hostile"] .answer')
        # A dialogue row: its turns are visible, in order and as text, before the question.
        turns = page.locator('tbody[data-id="wrong-2"] .turns .turn')
        assert [t.split("\n", 1) for t in turns.all_inner_texts()] == [[d["role"], d["content"]] for d in DIALOGUE]
        assert turns.nth(1).is_visible()
        assert page.evaluate("window.pwned") is None
        assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    finally:
        page.close()


def test_page_of_a_run_never_evaluated(browser, tmp_path):
    run = write_run(str(tmp_path / "run"), [[judgment("a", "8 3"), judgment("b", "9 1", "9 1")]])
    page, _ = open_page(browser, write_inspect_page(run))
    try:
        assert "Not evaluated" in page.inner_text("#metrics")
        assert page.inner_text("#run").count("judged rows") == 1
        assert page.eval_on_selector_all("span.count", "s => s.map(x => x.dataset.category)") == [
            "inconsistent", "parse_failure", "close_call"]  # no gold: no gold category
        assert visible_ids(page) == ["b", "a"]  # b flipped (margin 0) comes before a (margin 5)
    finally:
        page.close()


def test_page_of_an_s3_run(s3):
    run = write_run("s3://judgelm/runs/inspect-s3", run_rows())
    evaluate(storage.join(run, "judgments"), storage.join(run, "eval"), bootstrap=0)
    path = write_inspect_page(run, limit=1)
    assert path == "s3://judgelm/runs/inspect-s3/inspect.html"
    fs, inner = storage.filesystem_for(path)
    with fs.open_input_stream(inner) as stream:
        html = stream.read().decode("utf-8")
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "agreement %" in text and html.count("data:image/png;base64,") == 4
    assert html.count('<tbody class="item"') <= 4 and "&lt;script&gt;window.pwned" not in html  # limit 1
