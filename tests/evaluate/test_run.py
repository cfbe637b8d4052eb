"""The whole evaluation: metrics.json, the report and its plots, the CLI reproducing PandaLM's
published numbers, LLMBar results against their dataset."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.evaluate.run import evaluate
from judgelm_ray.verdicts import best_of
from support import REPO
from support.evaluation import METRIC_KEYS, write_jsonl
from support.judgments import judgment, write_run


def test_evaluate_writes_metrics_report_and_plots(tmp_path):
    rows = []
    for i in range(40):
        gold = [i % 10, (i * 3) % 10]
        predicted = [gold[0], gold[1] + (i % 3) - 1]
        rows.append({"id": f"r{i}", "scores": predicted, "verdict_swapped": best_of(predicted) if i % 4 else "1",
                     "gold_scores": gold, "meta": json.dumps({"cat": "even" if i % 2 == 0 else "odd"})})
    predictions = write_jsonl(tmp_path / "pred.jsonl", rows)
    result = evaluate(predictions, str(tmp_path / "eval"), group_by=("cat",), bootstrap=200, seed=1)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert METRIC_KEYS <= saved.keys() and saved["n"] == 40 == result["n"]
    assert saved["agreement"] == result["agreement"] and 0 <= saved["agreement"] <= 1
    assert saved["groups"]["cat"]["even"]["n"] + saved["groups"]["cat"]["odd"]["n"] == 40
    assert saved["scores"]["n"] == 40 and saved["scores"]["pearson"] > 0.8
    assert saved["ci"]["samples"] == 200 and saved["both_orders"] == 40
    report = (tmp_path / "eval" / "report.md").read_text()
    for image in ("confusion.png", "position_bias.png", "score_differences.png"):
        assert f"]({image})" in report and (tmp_path / "eval" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reports_agreement_against_coverage_when_judgments_carry_confidence(tmp_path):
    # 20 rows: confidence falls with the row number and the judge errs on every fourth row from row 8 on.
    rows = [{"id": f"r{i:02d}", "verdict": "2" if i >= 8 and i % 4 == 0 else "1", "gold_verdict": "1",
             "confidence": None if i == 19 else 1 - i / 40, "margin": 2.5 - i / 4} for i in range(20)]
    result = evaluate(write_jsonl(tmp_path / "pred.jsonl", rows), str(tmp_path / "eval"), bootstrap=0)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["coverage"] == result["coverage"]
    assert (saved["coverage"]["with_confidence"], saved["coverage"]["without_confidence"]) == (19, 1)
    levels = saved["coverage"]["levels"]
    assert [(v["kept"], v["rows"]) for v in levels] == [(0.5, 10), (0.8, 16), (0.9, 18), (1.0, 19)]
    assert [v["agreement"] for v in levels] == pytest.approx([9 / 10, 14 / 16, 15 / 18, 16 / 19])  # misses: 8, 12, 16
    assert levels[0]["threshold"] == pytest.approx(1 - 9 / 40)
    assert saved["agreement"] == pytest.approx(17 / 20)  # the main metric still counts every row
    assert "## Agreement vs coverage" in (tmp_path / "eval" / "report.md").read_text()
    assert (tmp_path / "eval" / "coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _judgments_with(tmp_path, name: str, confidence: list | None) -> str:
    """Judge-job Parquet of six rows (rows 0 and 3 put answer 2 first) with this `confidence` column, or none."""
    rows = [judgment(f"r{i}", "8 3" if i % 3 else "3 8", gold_verdict="1") for i in range(6)]
    table = pq.read_table(f"{write_run(str(tmp_path / 'run'), [rows])}/judgments/part-00000.parquet")
    if "confidence" in table.column_names:  # the judge writer's schema may carry it already
        table = table.drop_columns(["confidence"])
    if confidence is not None:
        table = table.append_column("confidence", pa.array(confidence, pa.float64()))
    (tmp_path / name).mkdir()
    pq.write_table(table, tmp_path / name / "part-00000.parquet")
    return str(tmp_path / name)


@pytest.mark.parametrize("confidence", [None, [None] * 6], ids=["no-column", "all-null"])
def test_judgments_without_confidence_evaluate_as_before(tmp_path, confidence):
    result = evaluate(_judgments_with(tmp_path, "old", confidence), str(tmp_path / "eval"), bootstrap=0)
    assert result["agreement"] == pytest.approx(4 / 6) and result["coverage"] is None
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["coverage"] is None
    assert "coverage" not in (tmp_path / "eval" / "report.md").read_text()
    assert not (tmp_path / "eval" / "coverage.png").exists()


def test_judge_job_parquet_with_confidence_gets_a_coverage_table(tmp_path):
    result = evaluate(_judgments_with(tmp_path, "new", [0.9, 0.8, 0.7, 0.2, None, 0.6]), str(tmp_path / "eval"),
                      bootstrap=0)
    assert result["agreement"] == pytest.approx(4 / 6)  # the main metric is unchanged
    assert [v["rows"] for v in result["coverage"]["levels"]] == [3, 4, 5, 5]  # ceil: 90 % of 5 rows is 5
    assert [v["agreement"] for v in result["coverage"]["levels"]] == pytest.approx([2 / 3, 3 / 4, 3 / 5, 3 / 5])
    assert result["coverage"]["without_confidence"] == 1


PANDALM_PUBLISHED = [  # PandaLM README: accuracy / macro precision / recall / F1 in %, unparseable = tie
    ("gpt-3.5-turbo-testset-v1.json", "pandalm-gpt", (71.07, 58.79, 57.36, 57.55), 25),
    ("pandalm-7b-testset-v1.json", "pandalm", (66.77, 57.38, 57.50, 57.43), 0),
]


@pytest.mark.parametrize("predictions, fmt, published, failures", PANDALM_PUBLISHED)
def test_cli_reproduces_pandalms_published_numbers(shared_data, tmp_path, predictions, fmt, published, failures):
    pandalm = shared_data / "pandalm"
    out = tmp_path / "eval"
    command = [sys.executable, "-m", "judgelm_ray.cli", "evaluate", "--predictions", str(pandalm / predictions),
               "--predictions-format", fmt, "--gold", str(pandalm / "testset-v1.json"), "--gold-format", "pandalm",
               "--group-by", "cmp_key", "--bootstrap", "200", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "agreement %" in done.stdout and f"{published[0]:.2f}" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert tuple(round(100 * metrics[k], 2) for k in ("agreement", "precision", "recall", "f1")) == published
    assert metrics["n"] == 999 and metrics["parse_failures"]["forward"] == failures
    assert metrics["counts"]["missing_predictions"] == metrics["counts"]["missing_gold"] == 0
    assert sum(g["n"] for g in metrics["groups"]["cmp_key"].values()) == 999


def test_llmbar_results_line_up_with_their_dataset(shared_data, tmp_path):
    natural = shared_data / "llmbar" / "Dataset" / "LLMBar" / "Natural"
    result_file = str(natural / "evaluators" / "GPT-4" / "Vanilla" / "result.json")
    with_gold = evaluate(result_file, str(tmp_path / "a"), gold=str(natural / "dataset.json"),
                         predictions_format="llmbar-result", gold_format="llmbar", bootstrap=0)
    own_gold = evaluate(result_file, str(tmp_path / "b"), predictions_format="llmbar-result", bootstrap=0)
    assert with_gold["counts"]["joined"] == with_gold["n"] == 100 and with_gold["counts"]["missing_gold"] == 0
    for key in ("agreement", "agreement_swapped", "consistency", "prefer_first"):
        assert with_gold[key] == own_gold[key]  # the result file's labels are the dataset's labels, row by row


def test_cli_evaluate_names_the_bad_record(tmp_path, capsys):
    from judgelm_ray.cli import main

    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "verdict": "first"}])
    assert main(["evaluate", "--predictions", path, "--out", str(tmp_path / "o")]) == 2
    assert "p.jsonl row 0: field 'verdict'" in capsys.readouterr().err
