"""What a person reads after an evaluation: report.md with its PNG plots (the terminal table is
`console.evaluation_summary`).

Plots use matplotlib's Agg backend (no display on cluster nodes) and are written through
pyarrow.fs like every other output, so `out` may be local or s3://.
"""

from __future__ import annotations

import io

from judgelm_ray import storage
from judgelm_ray.console import number, percent
from judgelm_ray.evaluate.scoring import score_pairs

CONFUSION_PNG = "confusion.png"
SCORES_PNG = "score_differences.png"
BIAS_PNG = "position_bias.png"
COVERAGE_PNG = "coverage.png"
_LABEL_NAMES = {"1": "answer 1", "2": "answer 2", "tie": "tie", "failed": "parse failure"}


def save_figure(figure, path: str) -> None:
    """Write a figure as PNG to a local or s3:// path, and free it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    storage.write_bytes(path, buffer.getvalue())


def pyplot():
    """matplotlib with the Agg backend: cluster nodes have no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _failure_note(result: dict) -> str:
    """A title line saying how parse failures entered a plot: a chart of counted ties can hide them."""
    failures = result["parse_failures"]
    if not failures["forward"] and not failures["swapped"]:
        return ""
    how = {"tie": "counted as tie", "exclude": "excluded", "wrong": "counted as wrong"}[failures["policy"]]
    return f"\nparse failures {how}: {failures['forward']:,} forward, {failures['swapped']:,} swapped"


def plot_confusion(result: dict, path: str) -> None:
    """Heat map of gold (rows) against predicted (columns); colour is the share of the gold row."""
    import numpy as np

    plt = pyplot()
    confusion = result["confusion"]
    matrix = np.array(confusion["matrix"], dtype=float)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(1.6 * matrix.shape[1] + 2, 1.4 * matrix.shape[0] + 1.5))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, f"{int(count)}\n{100 * shares[i, j]:.1f}%", ha="center", va="center",
                  color="white" if shares[i, j] > 0.6 else "black")
    axes.set_xticks(range(matrix.shape[1]), [_LABEL_NAMES.get(x, x) for x in confusion["predicted"]])
    axes.set_yticks(range(matrix.shape[0]), [_LABEL_NAMES.get(x, x) for x in confusion["gold"]])
    axes.set_xlabel("predicted (forward order)")
    axes.set_ylabel("gold")
    axes.set_title("Confusion matrix (colour: share of the gold row)" + _failure_note(result))
    figure.colorbar(image, ax=axes, fraction=0.046)
    save_figure(figure, path)


def plot_score_differences(rows: list[dict], path: str) -> bool:
    """Distribution of predicted score differences (answer 1 - answer 2), against gold; False if no scores."""
    plt = pyplot()
    predicted, gold = score_pairs([r for r in rows if r["scores"] and len(r["scores"]) == 2 and r["gold_scores"]])
    if predicted:
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        bins = _bins(predicted + gold)
        left.hist(gold, bins=bins, alpha=0.5, label="gold")
        left.hist(predicted, bins=bins, alpha=0.5, label="predicted")
        left.set_xlabel("score of answer 1 - score of answer 2")
        left.set_ylabel("rows")
        left.legend()
        left.set_title("Score differences")
        right.scatter(gold, predicted, s=8, alpha=0.4)
        low, high = min(predicted + gold), max(predicted + gold)
        right.plot([low, high], [low, high], color="grey", linewidth=1, label="predicted = gold")
        right.legend()
        right.set_xlabel("gold difference")
        right.set_ylabel("predicted difference")
        right.set_title("Predicted vs gold difference")
        save_figure(figure, path)
        return True
    # Gold without scores (human labels): show how predicted differences split by gold class.
    by_class: dict[str, list[float]] = {}
    for row in rows:
        if row["scores"] and len(row["scores"]) == 2 and row["gold_verdict"] is not None:
            by_class.setdefault(row["gold_verdict"], []).append(row["scores"][0] - row["scores"][1])
    if not by_class:
        return False
    figure, axes = plt.subplots(figsize=(7, 4))
    bins = _bins([d for values in by_class.values() for d in values])
    for label in sorted(by_class, key=["1", "tie", "2"].index if set(by_class) <= {"1", "tie", "2"} else str):
        axes.hist(by_class[label], bins=bins, alpha=0.5, label=f"gold: {_LABEL_NAMES.get(label, label)} ({len(by_class[label])})")
    axes.set_xlabel("predicted score of answer 1 - score of answer 2")
    axes.set_ylabel("rows")
    axes.set_title("Predicted score differences by gold verdict")
    axes.legend()
    save_figure(figure, path)
    return True


def _bins(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if low == high:
        return [low - 0.5, high + 0.5]
    step = max((high - low) / 30, 1.0)  # scores are mostly whole numbers: narrower bins leave gaps
    count = int((high - low) / step) + 2
    return [low - step / 2 + i * step for i in range(count + 1)]


def plot_position_bias(result: dict, path: str) -> None:
    """Bars: agreement per order, consistency and the two position-preference rates."""
    plt = pyplot()
    names = ["agreement", "agreement_swapped", "agreement_both", "consistency", "prefer_first", "prefer_second"]
    values = [result[name] or 0.0 for name in names]
    figure, axes = plt.subplots(figsize=(8, 4))
    bars = axes.bar([n.replace("_", "\n") for n in names], [100 * v for v in values],
                    color=["#4c72b0"] * 3 + ["#55a868", "#dd8452", "#c44e52"])
    axes.bar_label(bars, labels=[f"{100 * v:.1f}%" for v in values])
    axes.set_ylim(0, 112)  # room for the value labels above a full bar
    axes.set_ylabel("% of rows")
    axes.set_title(f"Order effects over {result['both_orders']:,} rows" + _failure_note(result))
    save_figure(figure, path)


def plot_coverage(result: dict, path: str) -> None:
    """Agreement of the most confident rows against the share kept, with the overall agreement as a line."""
    plt = pyplot()
    levels = result["coverage"]["levels"]
    kept, agreement = [100 * v["kept"] for v in levels], [100 * (v["agreement"] or 0.0) for v in levels]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(kept, agreement, marker="o")
    for x, y, level in zip(kept, agreement, levels):
        axes.annotate(f"{y:.1f}%\nconf ≥ {level['threshold']:.2f}", (x, y), textcoords="offset points",
                      xytext=(0, 8), ha="center", fontsize=8)
    if result["agreement"] is not None:
        axes.axhline(100 * result["agreement"], color="grey", linestyle="--", linewidth=1, label="agreement, all rows")
        axes.legend(loc="lower left")
    axes.set_xlim(min(kept) - 5, 106)
    axes.set_ylim(max(0.0, min(agreement) - 10), min(100.0, max(agreement) + 8) + 4)
    axes.invert_xaxis()  # reads left to right as doubtful rows are set aside
    axes.set_xlabel("coverage: % of rows with a confidence kept (most confident first)")
    axes.set_ylabel("agreement with gold %")
    axes.set_title(f"Agreement vs coverage over {result['coverage']['with_confidence']:,} rows" + _failure_note(result))
    save_figure(figure, path)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def render_markdown(result: dict, images: dict[str, str]) -> str:
    """report.md: inputs, counts, main metrics with CIs, per class, confusion, coverage, order effects, scores, groups."""
    counts, failures, ci = result["counts"], result["parse_failures"], result["ci"]
    inputs = result["inputs"]
    lines = ["# Judge evaluation", "",
             f"Predictions `{inputs['predictions']}` ({inputs['predictions_format']}) against gold `{inputs['gold']}`"
             + (f" ({inputs['gold_format']})" if inputs["gold_format"] else "") + ".", "",
             "## Rows", ""]
    lines += _table(["what", "rows"], [
        ["predictions", f"{counts['predictions']:,}"], ["gold", f"{counts['gold']:,}"],
        ["joined by id", f"{counts['joined']:,}"], ["gold unparseable (left out)", f"{counts['gold_unparseable']:,}"],
        ["gold ids without a prediction", f"{counts['missing_predictions']:,}"],
        ["prediction ids without gold", f"{counts['missing_gold']:,}"],
        [f"parse failures, forward / swapped (policy `{failures['policy']}`)", f"{failures['forward']:,} / {failures['swapped']:,}"],
        ["excluded by the policy", f"{failures['excluded']:,}"],
        ["evaluated (verdicts)", f"{result['n']:,}"], ["judged in both orders", f"{result['both_orders']:,}"],
    ])
    for side in ("predictions", "gold"):
        if result["missing_ids"][side]:
            shown = ", ".join(f"`{i}`" for i in result["missing_ids"][side])
            lines += ["", f"First gold ids without {side}: {shown}" if side == "predictions" else f"First prediction ids without gold: {shown}"]
    lines += ["", "## Agreement with gold (forward order)", ""]
    interval = lambda key: f"[{percent(ci[key][0])}, {percent(ci[key][1])}]" if ci else "-"  # noqa: E731
    lines += _table(["metric", "%", f"{int(100 * ci['level'])} % CI (bootstrap, {ci['samples']} samples)" if ci else "CI"], [
        ["agreement", percent(result["agreement"]), interval("agreement")],
        ["precision (macro)", percent(result["precision"]), ""],
        ["recall (macro)", percent(result["recall"]), ""],
        ["F1 (macro)", percent(result["f1"]), interval("f1")],
    ])
    if result["per_class"]:
        lines += ["", "### Per class", ""]
        lines += _table(["gold class", "precision %", "recall %", "F1 %", "support"], [
            [_LABEL_NAMES.get(label, label), percent(v["precision"]), percent(v["recall"]), percent(v["f1"]), str(v["support"])]
            for label, v in result["per_class"].items()
        ])
    if "confusion" in images:
        confusion = result["confusion"]
        lines += ["", "### Confusion matrix (rows: gold, columns: predicted)", ""]
        lines += _table(["gold \\ predicted", *(_LABEL_NAMES.get(x, x) for x in confusion["predicted"])], [
            [_LABEL_NAMES.get(label, label), *(str(c) for c in counts_row)]
            for label, counts_row in zip(confusion["gold"], confusion["matrix"])
        ])
        lines += ["", f"![confusion matrix]({images['confusion']})"]
    if result.get("coverage"):
        lines += _coverage_section(result["coverage"], images)
    if result["both_orders"]:
        lines += ["", "## Order effects (answers swapped)", ""]
        lines += _table(["metric", "%"], [[name, percent(result[name])] for name in (
            "agreement_swapped", "agreement_both", "consistency", "prefer_first", "prefer_second", "delta_bias", "total_bias")])
        lines += ["", f"![position bias]({images['bias']})"]
    scores = result["scores"]
    if scores["n"] or "scores" in images:
        lines += ["", "## Scores", ""]
        if scores["n"]:
            lines += _table(["rows", "Pearson", "Spearman", "Kendall"],
                            [[f"{scores['n']:,}", *(number(scores[k], "{:.3f}") for k in ("pearson", "spearman", "kendall"))]])
        if "scores" in images:
            lines += ["", f"![score differences]({images['scores']})"]
    for column, groups in result["groups"].items():
        lines += ["", f"## By `{column}`", ""]
        lines += _table([column, "rows", "agreement %", "precision %", "recall %", "F1 %", "consistency %"], [
            [value, str(g["n"]), *(percent(g[k]) for k in ("agreement", "precision", "recall", "f1", "consistency"))]
            for value, g in groups.items()
        ])
    return "\n".join(lines) + "\n"


def _coverage_section(coverage: dict, images: dict[str, str]) -> list[str]:
    lines = ["", "## Agreement vs coverage", "",
             "Agreement (forward order, parse failures as above) of the most confident rows only: the rows set "
             "aside are the ones to route to a stronger judge. Rows are ranked by `confidence`, ties by row id; "
             "the threshold is the lowest confidence kept.", ""]
    lines += _table(["kept %", "rows", "agreement %", "confidence threshold"], [
        [f"{100 * v['kept']:g}", f"{v['rows']:,}", percent(v["agreement"]), f"{v['threshold']:.3f}"]
        for v in coverage["levels"]
    ])
    if coverage["without_confidence"]:
        lines += ["", f"Evaluated rows without a confidence (e.g. parse failures), not in this table: "
                  f"{coverage['without_confidence']:,}."]
    if "coverage" in images:
        lines += ["", f"![agreement vs coverage]({images['coverage']})"]
    return lines


def write_report(result: dict, rows: list[dict], out: str) -> dict[str, str]:
    """Write report.md and its plots under `out`; returns the image file names by kind."""
    images: dict[str, str] = {}
    if result["confusion"]:
        plot_confusion(result, storage.join(out, CONFUSION_PNG))
        images["confusion"] = CONFUSION_PNG
    if result["both_orders"]:
        plot_position_bias(result, storage.join(out, BIAS_PNG))
        images["bias"] = BIAS_PNG
    if result.get("coverage"):
        plot_coverage(result, storage.join(out, COVERAGE_PNG))
        images["coverage"] = COVERAGE_PNG
    if plot_score_differences(rows, storage.join(out, SCORES_PNG)):
        images["scores"] = SCORES_PNG
    storage.write_bytes(storage.join(out, "report.md"), render_markdown(result, images).encode("utf-8"))
    return images
