"""The report a person reads: the terminal table, report.md and the plots (real PNGs, looked at)."""

from __future__ import annotations

import matplotlib.image
import pytest

from judgelm_ray.console import evaluation_summary
from judgelm_ray.evaluate.report import (
    plot_confusion,
    plot_coverage,
    plot_position_bias,
    plot_score_differences,
    render_markdown,
    write_report,
)
from judgelm_ray.evaluate.scoring import compute_metrics


def _row(i: int, gold: str, forward: str | None, swapped: str | None, scores=None, gold_scores=None) -> dict:
    return {"id": str(i), "gold_verdict": gold, "gold_scores": gold_scores, "forward": forward, "swapped": swapped,
            "both_orders": True, "scores": scores, "no_verdict": False, "meta": {}, "columns": {},
            "groups": {"cat": "a" if i % 2 else "b"}}


ROWS = [
    _row(0, "1", "1", "1", [8, 3]), _row(1, "2", "2", "1", [2, 9]), _row(2, "tie", "1", "tie", [7, 6]),
    _row(3, "2", None, "2"), _row(4, "1", "1", "2", [9, 2]), _row(5, "tie", "tie", "tie", [5, 5]),
]


@pytest.fixture
def result() -> dict:
    metrics = compute_metrics(ROWS, "tie", group_by=("cat",), bootstrap=50, seed=0)
    counts = {"predictions": 7, "gold": 6, "joined": 6, "gold_unparseable": 0, "missing_predictions": 0, "missing_gold": 1}
    inputs = {"predictions": "p.jsonl", "predictions_format": "judgments", "gold": "g.jsonl", "gold_format": "canonical"}
    return metrics | {"counts": counts, "missing_ids": {"predictions": [], "gold": ["extra"]}, "inputs": inputs}


def test_terminal_table(result):
    table = evaluation_summary(result)
    lines = dict(line.split("  ", 1) for line in table.splitlines())
    assert lines["rows evaluated"].strip() == "6"
    assert lines["agreement %"].strip().startswith("66.67  [")  # rows 0, 1, 4, 5
    assert lines["parse failures (fwd/swap)"].strip() == "1 / 0  (policy tie)"
    assert lines["missing predictions / gold"].strip() == "0 / 1"


def test_markdown_has_every_table_and_links_the_images(result):
    text = render_markdown(result, {"confusion": "confusion.png", "bias": "position_bias.png", "scores": "score_differences.png"})
    assert "| agreement | 66.67 | [" in text
    assert "| answer 1 | 2 | 0 | 0 |" in text  # confusion row: gold answer 1, all predicted answer 1
    assert "| consistency | 33.33 |" in text  # rows 0 and 5 agree across orders
    assert "| prefer_second |" in text and "## By `cat`" in text and "| a | 3 |" in text
    assert "First prediction ids without gold: `extra`" in text
    for image in ("confusion.png", "position_bias.png", "score_differences.png"):
        assert f"]({image})" in text


def _picture(path) -> None:
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300 and pixels.std() > 0.05  # drawn, not blank


def test_plots_are_real_images(result, tmp_path):
    plot_confusion(result, str(tmp_path / "c.png"))
    plot_position_bias(result, str(tmp_path / "b.png"))
    assert plot_score_differences(ROWS, str(tmp_path / "by_class.png"))  # human gold: split by gold class
    with_gold_scores = [r | {"gold_scores": [s + 1 for s in r["scores"]]} for r in ROWS if r["scores"]]
    assert plot_score_differences(with_gold_scores, str(tmp_path / "vs_gold.png"))
    for name in ("c.png", "b.png", "by_class.png", "vs_gold.png"):
        _picture(tmp_path / name)
    assert not plot_score_differences([r | {"scores": None} for r in ROWS], str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()


def _confident(rows: list[dict]) -> list[dict]:
    return [r | {"confidence": c} for r, c in zip(rows, [0.9, 0.8, 0.4, None, 0.95, 0.6])]


def test_markdown_shows_agreement_against_coverage(result):
    confident = compute_metrics(_confident(ROWS), "tie", bootstrap=0)
    text = render_markdown(result | {"coverage": confident["coverage"]}, {"bias": "b.png", "coverage": "coverage.png"})
    section = text.split("## Agreement vs coverage", 1)[1].split("\n## ", 1)[0]
    # by confidence: rows 4 (right), 0 (right), 1 (right), 5 (right), 2 (wrong); row 3 has none
    assert "| kept % | rows | agreement % | confidence threshold |" in section
    assert "| 50 | 3 | 100.00 | 0.800 |" in section and "| 80 | 4 | 100.00 | 0.600 |" in section
    assert "| 90 | 5 | 80.00 | 0.400 |" in section and "| 100 | 5 | 80.00 | 0.400 |" in section
    assert "without a confidence (e.g. parse failures), not in this table: 1." in section and "](coverage.png)" in section
    assert "Agreement vs coverage" not in render_markdown(result, {"bias": "b.png"})  # judgments without confidence


def test_write_report_skips_plots_it_has_no_data_for(result, tmp_path):
    rows = [r | {"scores": None, "both_orders": False, "swapped": None} for r in ROWS]
    one_order = compute_metrics(rows, bootstrap=0)
    images = write_report(one_order | {k: result[k] for k in ("counts", "missing_ids", "inputs")}, rows, str(tmp_path))
    assert images == {"confusion": "confusion.png"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "report.md"]
    assert "Order effects" not in (tmp_path / "report.md").read_text()
    assert "Agreement vs coverage" not in (tmp_path / "report.md").read_text()


def test_write_report_plots_coverage_when_rows_have_a_confidence(result, tmp_path):
    confident = compute_metrics(_confident(ROWS), "tie", bootstrap=0)
    images = write_report(confident | {k: result[k] for k in ("counts", "missing_ids", "inputs")}, ROWS, str(tmp_path))
    assert images["coverage"] == "coverage.png"
    _picture(tmp_path / "coverage.png")
    assert "![agreement vs coverage](coverage.png)" in (tmp_path / "report.md").read_text()
    plot_coverage(confident | {"agreement": None}, str(tmp_path / "no_line.png"))  # no overall agreement line
    _picture(tmp_path / "no_line.png")


def test_a_grading_run_shows_how_its_scores_follow_the_gold_scores():
    # Single-answer grading (Prometheus, MT-bench single): no verdicts, one score per row against gold.
    rows = [{**_row(i, None, None, None, scores=[s], gold_scores=[g]), "no_verdict": True}
            for i, (s, g) in enumerate([(1, 1.3), (2, 2.0), (4, 3.7), (5, 4.3), (3, 3.3)])]
    result = compute_metrics(rows, bootstrap=0)
    result["counts"] = {"gold_unparseable": 0, "missing_predictions": 0, "missing_gold": 0}
    lines = dict(line.split("  ", 1) for line in evaluation_summary(result).splitlines())
    assert lines["rows evaluated"].strip() == "0" and lines["scores compared with gold"].strip() == "5"
    pearson, spearman, kendall = (float(v) for v in lines["pearson / spearman / kendall"].split(" / "))
    assert pearson > 0.95 and spearman == 1.0 and kendall == 1.0
