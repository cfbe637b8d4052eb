"""The demo recipe: the whole JudgeLM loop on a laptop CPU, read top to bottom.

1. data: synthetic JudgeLM-format records with knowable answers (synthetic.py); the training set
   plants a position skew, the held-out set does not.
2. base model: a small random Llama with the compact tokenizer (tiny_model.py), built locally.
3. train two judges from the same spec with the same budget: with swap augmentation, and without.
4. judge the held-out set with each, in both orders, with and without the reference.
5. evaluate every variant against the teacher and compare parse rate, agreement, consistency and
   position bias, in a report with a plot.

Every step is an ordinary job spec (the demo spec with a few keys changed), run by the same code
a cluster job runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from judgelm_ray import console, storage
from judgelm_ray.demo import synthetic
from judgelm_ray.demo.tiny_model import build_tiny_model
from judgelm_ray.evaluate.report import pyplot, save_figure
from judgelm_ray.job import run_job
from judgelm_ray.spec import JobSpec, load_spec, resolved_dict, spec_from_dict

JUDGES = {"swap-aug": None, "no-swap": 0.0}  # swap_ratio: None keeps the spec's own
REFERENCES = {"with reference": "always", "without reference": "never"}


@dataclass(frozen=True)
class DemoSettings:
    """What the job spec cannot say: how much data to make and how big a base model to build."""

    train_records: int = 6000
    eval_records: int = 300
    train_position_skew: float = 0.9  # the better answer first in 90 % of training pairs
    hidden_size: int = 128
    num_layers: int = 2


QUICK = DemoSettings(train_records=3000, eval_records=100)


def prepare(spec: JobSpec, settings: DemoSettings) -> None:
    """Write the data and the base model the demo spec names (deterministic, so safe to redo)."""
    seed = spec.seed
    train = synthetic.generate_judge_records(settings.train_records, seed, "train", settings.train_position_skew)
    synthetic.write_jsonl(train, spec.train.data.path)
    synthetic.write_jsonl(synthetic.generate_judge_records(settings.eval_records, seed, "eval"), spec.input.path)
    build_tiny_model(
        spec.train.base_model, seed=seed, compact_template=True,
        hidden_size=settings.hidden_size, num_layers=settings.num_layers,
    )


def variant(spec: JobSpec, judge: str, reference: str | None) -> JobSpec:
    """The demo spec for one judge: training only (reference None), or judging + evaluating."""
    data = resolved_dict(spec)
    folder = storage.join(spec.output, judge)
    data["name"] = f"{spec.name}-{judge}"
    if reference is None:
        if JUDGES[judge] is not None:
            data["train"]["augment"]["swap_ratio"] = JUDGES[judge]
        data.update(judge=None, evaluate=None, output=folder)
    else:
        data["name"] = f"{spec.name}-{judge}-{REFERENCES[reference]}-reference"
        data["train"] = None
        data["judge"].update(model=folder, reference=REFERENCES[reference])
        data["output"] = storage.join(folder, REFERENCES[reference])
    return spec_from_dict(data, f"{spec.name} ({judge}, {reference or 'training'})")


def comparison_rows(results: dict[tuple[str, str], dict]) -> list[dict]:
    rows = []
    for (judge, reference), metrics in results.items():
        n = metrics["n"]
        failures = metrics["parse_failures"]
        failed = failures["forward"] + failures["swapped"]
        rows.append(
            {
                "judge": judge, "reference": reference, "n": n,
                "parse_rate": 1 - failed / (2 * n) if n else None,
                "agreement": metrics["agreement"], "consistency": metrics["consistency"],
                "prefer_first": metrics["prefer_first"], "prefer_second": metrics["prefer_second"],
                # judge.logprobs: agreement on the half of the rows the judge is surest of.
                "agreement_surest_half": next((level["agreement"] for level in (metrics.get("coverage") or {})
                                               .get("levels", []) if level["kept"] == 0.5), None),
            }
        )
    return rows


def format_comparison(rows: list[dict]) -> str:
    header = ["judge", "reference", "n", "parse rate", "agreement", "surest 50%", "consistency", "prefer 1st",
              "prefer 2nd"]
    keys = ["judge", "reference", "n", "parse_rate", "agreement", "agreement_surest_half", "consistency",
            "prefer_first", "prefer_second"]

    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "-" if value is None else str(value)

    table = [header] + [[cell(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table)


def plot_comparison(rows: list[dict], path: str) -> None:
    plt = pyplot()
    labels = [f"{r['judge']}\n{r['reference']}" for r in rows]
    measures = [("consistency", "consistency"), ("prefer_first", "prefers 1st"), ("prefer_second", "prefers 2nd"),
                ("agreement", "agreement")]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(measures)
    for i, (key, name) in enumerate(measures):
        xs = [x + (i - (len(measures) - 1) / 2) * width for x in range(len(rows))]
        axis.bar(xs, [r[key] or 0 for r in rows], width, label=name)
    axis.set_xticks(range(len(rows)), labels)
    axis.set_ylim(0, 1.15)  # room for the legend above bars that reach 1
    axis.set_ylabel("fraction of held-out pairs")
    axis.set_title("Swap augmentation vs. position bias (held-out pairs, both orders)")
    axis.legend(loc="upper center", ncol=len(measures), fontsize=8)
    save_figure(figure, path)


def reference_finding(rows: list[dict]) -> str:
    """Say plainly whether the reference helped the swap-augmented judge, as measured here."""
    by_reference = {r["reference"]: r["agreement"] for r in rows if r["judge"] == "swap-aug"}
    if len(by_reference) < 2:
        return "- Reference support: not measured in this run (one reference setting only)."
    gain = by_reference["with reference"] - by_reference["without reference"]
    if gain >= 0.03:
        return f"- Reference support: the reference raised agreement by {gain:.3f} on held-out pairs."
    return (
        f"- Reference support is NOT shown by this demo: agreement changed by {gain:+.3f} with the reference. "
        "The tiny judge learns what it can tell from the answers alone (empty, off-topic, terse or full) and "
        "scores any on-topic capital or sum as if it were right (10 full, 9 terse), in either order: knowledge "
        "bias, which the reference should fix, but it does not learn to check an answer against it. Also tried, "
        "without a change: training with the reference always shown, a bare reference (the value only), "
        "3 and 4 layers, 4 attention heads, and 6x the training data."
    )


def write_report(spec: JobSpec, settings: DemoSettings, rows: list[dict]) -> str:
    out = Path(spec.output)
    plot_comparison(rows, str(out / "comparison.png"))
    lines = [
        "# judgelm-ray demo: JudgeLM's bias fixes on a laptop",
        "",
        f"Training data: {settings.train_records} synthetic JudgeLM-format records with a planted position skew: "
        f"the better answer is shown first in {settings.train_position_skew:.0%} of pairs. Held-out set: "
        f"{settings.eval_records} pairs about unseen countries and numbers, unbiased. The made-up countries are too many "
        "to memorise, so, like a real judge meeting facts it does not know, the judges cannot recall which capital "
        "is right. Both judges start from the same "
        f"random {settings.num_layers}-layer, {settings.hidden_size}-wide Llama and train with the same budget; only "
        "swap augmentation differs. Each judge scores the held-out pairs in both orders.",
        "",
        "```",
        format_comparison(rows),
        "```",
        "",
        "![comparison](comparison.png)",
        "",
        "- consistency: the same verdict in both orders; prefer 1st / 2nd: inconsistent pairs where the judge",
        "  picked whichever answer was shown first / second (JudgeLM's position-bias rates).",
        reference_finding(rows),
        "- Reports per variant: " + ", ".join(
            f"[{r['judge']}, {r['reference']}]({r['judge']}/{REFERENCES[r['reference']]}/eval/report.md)" for r in rows
        ),
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_demo(
    spec_path: str,
    overrides: list[str] = (),
    settings: DemoSettings = DemoSettings(),
    references: tuple[str, ...] = tuple(REFERENCES),
) -> dict:
    spec = load_spec(spec_path, overrides)
    clock = time.monotonic()
    prepare(spec, settings)
    console.say(f"demo: {settings.train_records:,} training and {settings.eval_records:,} held-out records, "
                f"a random {settings.num_layers}-layer Llama  ({console.duration(time.monotonic() - clock)})")
    results = {}
    with console.last_lines_only():  # one line per step, with its time
        for judge in JUDGES:
            run_job(variant(spec, judge, None))
            for reference in references:
                # restart: a demo run judges afresh with the judge it has just trained.
                run = variant(spec, judge, reference)
                sections = dict((name, manifest) for name, manifest, _ in run_job(run, restart=True))
                results[(judge, reference)] = sections["evaluate"]["metrics"]
    rows = comparison_rows(results)
    return {"rows": rows, "table": format_comparison(rows), "report": write_report(spec, settings, rows)}
