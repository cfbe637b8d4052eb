"""`judgelm-ray inspect` (evaluate/inspect_rows.py picks the rows, evaluate/inspect_page.py draws the
page): which rows, that the page stays bounded, escapes row text, and works with and without an
evaluation. The page in a real browser: tests/integration/test_inspect_browser.py."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.cli import main
from judgelm_ray.evaluate.inspect_page import (
    CATEGORY_NAMES,
    TEXT_CHARS,
    TURNS_SHOWN,
    build_context,
    clip,
    page_turns,
    write_inspect_page,
)
from judgelm_ray.evaluate.inspect_rows import (
    CATEGORIES,
    Selection,
    batch_categories,
    batch_gold,
    batch_margins,
    gold_label,
    score_margin,
)
from judgelm_ray.evaluate.run import evaluate
from judgelm_ray.judge.schemas import JUDGMENT_SCHEMA
from support.judgments import judgment, write_run


def batch(rows: list[dict]) -> pa.RecordBatch:
    """Judgment rows with only the columns they name, as a file of an older or smaller schema would have."""
    names = {name for row in rows for name in row}
    schema = pa.schema([f for f in JUDGMENT_SCHEMA if f.name in names])
    return pa.RecordBatch.from_pylist(rows, schema=schema)


def categories(row: dict) -> list[str]:
    return [name for name, mask in batch_categories(batch([row])).items() if mask[0]]


def test_categories_of_a_row():
    assert categories({"consistent": False, "parse_error": None}) == ["inconsistent"]
    assert categories({"consistent": None, "parse_error": "forward: no score"}) == ["parse_failure"]
    assert categories({"verdict_forward": "2", "gold_verdict": "1"}) == ["gold_disagreement"]
    # Gold from scores, as the evaluation joins it; the forward verdict is what agreement counts.
    assert categories({"verdict_forward": "2", "verdict": "tie", "gold_scores": [9, 1]}) == ["gold_disagreement"]
    assert categories({"verdict": "2", "gold_scores": [9, 1]}) == ["gold_disagreement"]  # no per-order column
    assert categories({"verdict_forward": "1", "consistent": True, "gold_scores": [9, 1]}) == []
    # A parse failure has no verdict to disagree with: it is counted once, as a failure.
    assert categories({"verdict_forward": None, "parse_error": "x", "gold_verdict": "1"}) == ["parse_failure"]


def test_gold_label_of_a_batch_matches_the_rows():
    rows = [{"gold_verdict": "tie", "gold_scores": [9, 1]}, {"gold_verdict": None, "gold_scores": [2, 9, 3]},
            {"gold_verdict": None, "gold_scores": None}, {"gold_verdict": None, "gold_scores": [4, 4]}]
    assert batch_gold(batch(rows)).to_pylist() == [gold_label(r) for r in rows] == ["tie", "2", None, "tie"]


def test_score_margin_is_the_gap_between_the_two_best_scores():
    assert score_margin([8, 3]) == 5 and score_margin([3, 8]) == 5
    assert score_margin([2, 9, 7]) == 2
    assert score_margin([5.5, 5.5]) == 0
    assert score_margin(None) is None and score_margin([7]) is None and score_margin([]) is None
    scores = [[8, 3], [3, 8], [2, 9, 7], None, [7], [], [5.5, 5.5], [1, None]]
    array = pa.array(scores, pa.list_(pa.float64()))
    for sliced, start in ((array, 0), (array.slice(2), 2)):  # a slice's values keep the parent's offsets
        expected = [score_margin(s) for s in scores[start:]]
        assert [None if np.isnan(m) else m for m in batch_margins(sliced)] == expected


def test_selection_is_bounded_counts_every_row_and_keeps_the_smallest_margins():
    selection = Selection(limit=3)
    margins = [9, 4, 0, 7, 0, 2, 0, 5, 1, 8]
    rows = [{"consistent": i % 2 == 1, "parse_error": "bad" if i % 10 == 0 else None,
             "scores": [margins[i % 10] + i / 1000, 0.0]} for i in range(1000)]
    for start in range(0, 1000, 100):  # ten files of a hundred rows
        selection.add_batch(start // 100, 0, batch(rows[start:start + 100]))
    assert selection.counts == {"inconsistent": 500, "parse_failure": 100, "gold_disagreement": 0, "close_call": 1000}
    assert selection.first["inconsistent"] == [(0, 0), (0, 2), (0, 4)]  # the first ones, in reading order
    picked = selection.selected()
    closest = [key for key, p in picked.items() if "close_call" in p["categories"]]
    assert closest == [(0, 2), (0, 4), (0, 6)]  # margins 0.002, 0.004, 0.006: smallest first
    assert [round(picked[k]["margin"], 3) for k in closest] == [0.002, 0.004, 0.006]
    assert len(picked) <= 3 * len(selection.categories())
    assert "gold_disagreement" not in selection.categories()  # no row had gold
    assert sum(selection.margins.values()) == 1000 and selection.rows == 1000


def test_smallest_margins_across_batches_match_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 11, size=(5000, 2)).astype(float).tolist()
    selection = Selection(limit=50)
    for start in range(0, 5000, 512):
        selection.add_batch(start // 1000, start % 1000, batch([{"scores": s} for s in scores[start:start + 512]]))
    chosen = [key for key, p in selection.selected().items() if "close_call" in p["categories"]]
    order = sorted(range(5000), key=lambda i: (abs(scores[i][0] - scores[i][1]), i))[:50]
    assert [(i // 1000, i % 1000) for i in order] == chosen


def test_equal_margins_keep_the_rows_read_first_and_limit_zero_lists_nothing():
    selection = Selection(limit=2)
    for file in range(3):
        selection.add_batch(file, 0, batch([{"scores": [5, 5]}] * 2))
    assert list(selection.selected()) == [(0, 0), (0, 1)]
    empty = Selection(limit=0)
    empty.add_batch(0, 0, batch([{"consistent": False, "scores": [1, 1]}]))
    assert empty.selected() == {} and empty.counts["inconsistent"] == 1


def test_every_category_has_a_name_on_the_page():
    assert list(CATEGORY_NAMES) == list(CATEGORIES)


def test_long_texts_are_clipped():
    assert clip("x" * (TEXT_CHARS + 5)) == {"text": "x" * TEXT_CHARS, "cut": 5}
    assert clip(None) == {"text": "", "cut": 0}


def _rows(count: int, start: int = 0) -> list[dict]:
    """Judgments with every category: inconsistent (i % 5 == 0), parse failures (i % 7 == 0), gold."""
    out = []
    for i in range(start, start + count):
        if i % 7 == 0:
            text, swapped = "cannot judge", "cannot judge"
        elif i % 5 == 0:
            text, swapped = "8 3", "8 3"
        else:
            text, swapped = f"{2 + i % 8} {9 - i % 3}\nbecause", ""
        out.append(judgment(f"r{i:05d}", text, swapped, gold_scores=[8.0, 2.0] if i % 2 else [2.0, 8.0]))
    return out


def test_page_of_a_big_run_is_bounded_and_counts_every_row(tmp_path):
    run = write_run(str(tmp_path / "run"), [_rows(400, s) for s in range(0, 1200, 400)])
    context = build_context(run, limit=5)
    counts = {c["name"]: (c["count"], c["shown"]) for c in context["categories"]}
    parse_failures = len(range(0, 1200, 7))
    inconsistent = sum(1 for i in range(1200) if i % 5 == 0 and i % 7)
    assert counts["parse_failure"] == (parse_failures, 5) and counts["inconsistent"] == (inconsistent, 5)
    assert counts["close_call"] == (1200 - parse_failures, 5)
    assert counts["gold_disagreement"][0] > 0 and counts["gold_disagreement"][1] == 5
    assert context["total_rows"] == 1200 and 5 <= len(context["rows"]) <= 20
    # The full rows came from the second pass: texts and answers are there.
    failure = next(r for r in context["rows"] if "parse_failure" in r["categories"])
    assert failure["id"] == "r00000" and failure["judge_forward"]["text"] == "cannot judge"
    assert failure["answers"] == [{"text": "answer one", "cut": 0}, {"text": "answer two", "cut": 0}]
    closest = [r for r in context["rows"] if "close_call" in r["categories"]]
    assert [r["margin"] for r in closest] == [0.0] * 5  # inconsistent rows average to equal scores


def test_row_text_is_escaped_and_the_page_fetches_nothing(tmp_path):
    attack = '<script>window.pwned = 1</script><img src="https://example.com/x.png">'
    rows = [judgment("evil", "8 3", answers=(attack, "fine"), question="<b>bold?</b>", gold_verdict="2")]
    path = write_inspect_page(write_run(str(tmp_path / "run"), [rows]))
    html = open(path, encoding="utf-8").read()
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html and "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert html.count("<script>") == 1 and "<b>bold?" not in html  # only the page's own script
    # Every src/href is inline; the policy lets nothing be fetched and only the page's script run.
    assert re.findall(r'(?:src|href)="(?!data:)', html) == []
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]*)"', html)[1])
    assert policy.startswith("default-src 'none'; img-src data:;") and "script-src 'sha256-" in policy


def test_page_without_evaluation_or_gold(tmp_path):
    rows = [judgment("a", "8 3"), judgment("b", "8 3", "8 3"), judgment("c", "??")]
    path = write_inspect_page(write_run(str(tmp_path / "run"), [rows]))
    assert path == str(tmp_path / "run" / "inspect.html")
    html = open(path, encoding="utf-8").read()
    assert "Not evaluated" in html and 'id="no-gold"' in html
    assert 'value="gold_disagreement"' not in html and 'value="inconsistent"' in html
    assert html.count('<tbody class="item"') == 3
    assert html.count("data:image/png;base64,") == 1  # the score-margin plot, drawn from the judgments


def test_page_with_evaluation_shows_its_metrics_and_plots(tmp_path):
    run = write_run(str(tmp_path / "run"), [_rows(60)])
    result = evaluate(str(tmp_path / "run" / "judgments"), str(tmp_path / "run" / "eval"), bootstrap=20)
    context = build_context(run)
    metrics = {name: value for name, value, _ in context["metrics"]}
    assert metrics["rows evaluated"] == f"{result['n']:,}"
    assert metrics["agreement %"] == f"{100 * result['agreement']:.2f}"
    assert [p["title"] for p in context["plots"]] == ["Confusion matrix", "Order effects", "Score differences",
                                                       "Score margins"]


def _turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


DIALOGUE = [_turn("system", "Be brief."), _turn("user", "<script>window.pwned = 1</script> first"),
            _turn("assistant", "Hello & welcome")]


def _page(tmp_path, rows: list[dict], **manifest) -> str:
    return open(write_inspect_page(write_run(str(tmp_path / "run"), [rows], **manifest)), encoding="utf-8").read()


def _in_order(html: str, *parts: str) -> bool:
    """Whether every part is in the page, each after the one before."""
    at = -1
    for part in parts:
        at = html.find(part, at + 1)
        if at < 0:
            return False
    return True


def test_dialogue_row_shows_its_turns_in_order_escaped_then_the_question(tmp_path):
    html = _page(tmp_path, [judgment("talk", "8 3", turns=DIALOGUE, question="And the second <i>question</i>?")])
    assert _in_order(html, "dialogue before the question (3 turns)", '<div class="role">system</div>',
                     "Be brief.", '<div class="role">user</div>', "&lt;script&gt;window.pwned = 1&lt;/script&gt; first",
                     '<div class="role">assistant</div>', "Hello &amp; welcome",
                     "question (the final user turn)</h4>", "And the second &lt;i&gt;question&lt;/i&gt;?",
                     "answer 1</h4>")
    assert html.count("<script>") == 1 and "<i>question" not in html  # only the page's own script
    assert "(after 3 shared turns)" in html  # the summary line says the question ends a dialogue


def test_answer_and_reference_turns_are_shown_in_their_own_blocks(tmp_path):
    # MT-bench turn 2: each answer answered turn 1 itself; the reference has its own turn 1 too.
    own = [[_turn("user", "Turn one?"), _turn("assistant", "first model's turn one")],
           [_turn("user", "Turn one?"), _turn("assistant", "second <b>model</b>'s turn one")]]
    row = judgment("mt", "8 3", question="Turn two?", answer_turns=own, reference="ref turn two",
                   reference_turns=[_turn("user", "Turn one?"), _turn("assistant", "ref turn one")])
    html = _page(tmp_path, [row])
    assert "dialogue before the question" not in html  # no shared turns
    assert _in_order(html, "Turn two?</pre>", "reference</h4>", "the reference's own earlier turns", "ref turn one",
                     "final turn", "ref turn two", "answer 1</h4>", "this answer's own earlier turns", "Turn one?",
                     "first model&#39;s turn one", "final answer", "answer one", "answer 2</h4>", "Turn one?",
                     "second &lt;b&gt;model&lt;/b&gt;&#39;s turn one", "final answer", "answer two", "judge, forward")
    assert "(after each answer&#39;s own turns)" in html
    page = build_context(str(tmp_path / "run"))["rows"][0]
    assert [a["count"] for a in page["answer_turns"]] == [2, 2] and page["turns"]["count"] == 0


def test_template_mode_and_rubric_are_shown(tmp_path):
    manifest = {"name": "p", "status": "succeeded", "counts": {},
                "spec": {"judge": {"model": "tiny", "engine": "vllm", "mode": "pairwise", "template": "prometheus"}}}
    row = judgment("graded", "8 3", template="prometheus", rubric="Is it <u>helpful</u>? Score 1-5.")
    html = _page(tmp_path, [row], manifest=manifest)
    assert "mode <code>pairwise</code>, template <code>prometheus</code>" in html
    assert _in_order(html, "question</h4>", "rubric</h4>", "Is it &lt;u&gt;helpful&lt;/u&gt;? Score 1-5.", "answer 1")
    assert "<tr><th>template</th><td>prometheus</td></tr>" in html and "<tr><th>mode</th><td>pairwise</td></tr>" in html


def test_judgments_written_before_dialogues_and_families_still_render(tmp_path):
    run = write_run(str(tmp_path / "run"), [[judgment("old", "8 3", reference="Stone Town"), judgment("b", "??")]])
    path = tmp_path / "run" / "judgments" / "part-00000.parquet"
    new = ["template", "turns", "answer_turns", "reference_turns", "rubric"]
    pq.write_table(pq.read_table(path).drop_columns(new), path)
    assert not set(new) & set(pq.read_schema(path).names)
    context = build_context(run)
    old = next(r for r in context["rows"] if r["id"] == "old")
    assert old["template"] is None and old["rubric"] is None and old["dialogue"] is None
    assert old["turns"]["count"] == 0 and [a["count"] for a in old["answer_turns"]] == [0, 0]
    html = open(write_inspect_page(run), encoding="utf-8").read()
    assert html.count('<tbody class="item"') == 2 and "mode <code>pairwise</code>" in html
    assert "template <code>" not in html and "rubric</h4>" not in html and 'class="turn"' not in html
    assert "Stone Town" in html and "<tr><th>template</th>" not in html  # nor in the manifest's table


def test_a_long_dialogue_shows_its_first_and_last_turns_clipped():
    turns = [_turn("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * TEXT_CHARS) for i in range(40)]
    shown = page_turns(turns)
    assert shown["count"] == 40 and shown["omitted"] == 40 - TURNS_SHOWN
    kept = shown["head"] + shown["tail"]
    assert len(kept) == TURNS_SHOWN
    assert [t["content"]["text"].split()[1] for t in kept] == [str(i) for i in (*range(8), *range(32, 40))]
    assert all(len(t["content"]["text"]) == TEXT_CHARS and t["content"]["cut"] > 0 for t in kept)
    assert page_turns(None) == page_turns([]) == {"count": 0, "head": [], "omitted": 0, "tail": []}
    assert page_turns(turns[:3])["omitted"] == 0 and len(page_turns(turns[:3])["head"]) == 3


def test_a_hostile_role_is_escaped_like_any_row_text(tmp_path):
    html = _page(tmp_path, [judgment("r", "8 3", turns=[_turn('user" onclick="x', "hi"), _turn("<b>me</b>", "yo")])])
    assert 'data-role="user&#34; onclick=&#34;x"' in html and '<div class="role">&lt;b&gt;me&lt;/b&gt;</div>' in html
    assert "onclick=\"x" not in html and "<b>me" not in html


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        write_inspect_page(str(tmp_path / "nothing"))


def test_cli_inspect_prints_the_page_path(tmp_path, capsys):
    run = write_run(str(tmp_path / "run"), [[judgment("a", "8 3", "8 3")]])
    assert main(["inspect", run, "--limit", "10"]) == 0
    assert capsys.readouterr().out.strip() == f"{run}/inspect.html"
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
