"""The evaluate job: join a judge's predictions with gold by id, compute JudgeLM's metrics, write a report.

`evaluate` is the whole job (standalone CLI and the `evaluate` section of a job spec);
`join.join` and `scoring.compute_metrics` are its pure halves.
"""

from __future__ import annotations

from collections.abc import Callable

from judgelm_ray import console, runs, storage
from judgelm_ray.evaluate.join import join
from judgelm_ray.evaluate.predictions import load_gold, load_predictions
from judgelm_ray.evaluate.report import write_report
from judgelm_ray.evaluate.scoring import check_policy, compute_metrics
from judgelm_ray.spec import JobSpec


def evaluate(
    predictions: str,
    out: str,
    gold: str | None = None,
    predictions_format: str = "judgments",
    gold_format: str = "canonical",
    parse_failures: str = "tie",
    group_by: tuple[str, ...] = (),
    bootstrap: int = 1000,
    seed: int = 0,
    step: Callable[[], None] = lambda: None,
) -> dict:
    """Evaluate a predictions file against gold; writes <out>/metrics.json, report.md and plots; returns the metrics.

    `step()` is called as each of the `STEPS` is done (the progress display counts them)."""
    check_policy(parse_failures)  # fail before reading millions of rows
    group_by = tuple(group_by)
    predicted = load_predictions(predictions, predictions_format, group_by)
    truth = load_gold(gold, gold_format, group_by) if gold is not None else None
    step()
    rows, joined = join(predicted, truth, group_by)
    step()
    result = compute_metrics(rows, parse_failures, group_by, bootstrap, seed)
    step()
    result.update(joined)
    result["inputs"] = {
        "predictions": predictions, "predictions_format": predictions_format,
        "gold": gold if gold is not None else "(the predictions' own gold columns)",
        "gold_format": gold_format if gold is not None else None,
    }
    storage.write_json(storage.join(out, "metrics.json"), result)
    write_report(result, rows, out)
    step()
    return result


STEPS = 4  # read, join, metrics, report


def run_evaluation(spec: JobSpec) -> dict:
    """The `evaluate` section of a job: score the judgments the judge section wrote.

    Returns a manifest (status, outputs, metrics) like the other sections.
    """
    section = spec.evaluate
    out = section.out or runs.RunFolder(spec.output).eval
    done = {"steps": 0}

    def step() -> None:
        done["steps"] += 1

    display = console.ProgressDisplay(f"evaluate {spec.name}", "steps", lambda: (done, []), ("steps",), total=STEPS)
    with display:
        result = _evaluate_section(spec, out, step)
    outputs = {"metrics": storage.join(out, "metrics.json"), "report": storage.join(out, "report.md")}
    return {"status": "succeeded", "outputs": outputs, "metrics": result}


def _evaluate_section(spec: JobSpec, out: str, step: Callable[[], None]) -> dict:
    section = spec.evaluate
    return evaluate(
        predictions=runs.RunFolder(spec.output).judgments,
        out=out,
        gold=section.gold,
        gold_format=section.gold_format or spec.input.format,
        parse_failures=section.parse_failures,
        group_by=tuple(section.group_by),
        bootstrap=section.bootstrap,
        seed=spec.seed,
        step=step,
    )
