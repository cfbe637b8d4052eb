"""What the terminal shows: the summary table each section prints at its end.

Each summary reads a section's manifest (or the evaluation's metrics) only, so it can be printed
again from the files a run left behind.
"""

from __future__ import annotations


def number(value, fmt: str = "{:,}") -> str:
    """A value for a summary table; "-" where there is none."""
    return "-" if value is None else fmt.format(value)


def percent(value) -> str:
    """A rate (a fraction) as a percentage with two decimals; "-" where there is none."""
    return "-" if value is None else f"{100 * value:.2f}"


def summary_table(lines: list[tuple[str, str]]) -> str:
    """The two-column table printed at the end of a run."""
    width = max(len(key) for key, _ in lines)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in lines)


def judge_summary(manifest: dict) -> str:
    """The table printed at the end of a judge run."""
    counts, stats = manifest["counts"], manifest["stats"]
    lines = [
        ("rows read", number(counts["read"])),
        ("judged", number(counts["judged"])),
        ("quarantined", number(counts["quarantined"])),
        ("parse failures", number(counts["parse_failures"])),
        ("consistency (both orders)", number(stats["consistency"], "{:.3f}")),
        ("rows/s", number(stats["rows_per_second"], "{:.2f}")),
        ("tokens/s (prompt+generated)", number(stats["tokens_per_second"], "{:.1f}")),
        ("generated tokens/s", number(stats["generated_tokens_per_second"], "{:.1f}")),
        ("status", manifest["status"]),
        ("output", manifest["outputs"]["judgments"]),
    ]
    return summary_table(lines)


def train_summary(manifest: dict) -> str:
    """The table printed at the end of a training run."""
    counts, stats = manifest["counts"], manifest["stats"]
    lines = [
        ("examples", number(counts["examples"])),
        ("dropped", ", ".join(f"{k}: {v}" for k, v in counts["dropped"].items()) or "0"),
        ("steps", f"{stats['steps']}/{stats['total_steps']}"),
        ("resumed from step", number(stats["resumed_from_step"])),
        ("loss (first -> last)", f"{number(stats['first_loss'], '{:.4f}')} -> {number(stats['final_loss'], '{:.4f}')}"),
        ("eval loss", number(stats["eval_loss"], "{:.4f}")),
        ("tokens/s (all workers)", number(stats["tokens_per_second"], "{:,.0f}")),
        ("status", manifest["status"]),
        ("model", manifest["outputs"]["model"]),
    ]
    return summary_table(lines)


def evaluation_summary(result: dict) -> str:
    """The compact table of an evaluation's metrics."""
    ci = result["ci"] or {}
    failures = result["parse_failures"]
    interval = f"  [{percent(ci['agreement'][0])}, {percent(ci['agreement'][1])}]" if ci else ""
    lines = [
        ("rows evaluated", f"{result['n']:,}"),
        ("agreement %", percent(result["agreement"]) + interval),
        ("precision / recall / F1 %", " / ".join(percent(result[k]) for k in ("precision", "recall", "f1"))),
        ("agreement swapped / both %", f"{percent(result['agreement_swapped'])} / {percent(result['agreement_both'])}"),
        ("consistency %", percent(result["consistency"])),
        ("prefer first / second %", f"{percent(result['prefer_first'])} / {percent(result['prefer_second'])}"),
        ("parse failures (fwd/swap)", f"{failures['forward']} / {failures['swapped']}  (policy {failures['policy']})"),
        ("gold unparseable", str(result["counts"]["gold_unparseable"])),
        ("missing predictions / gold", f"{result['counts']['missing_predictions']} / {result['counts']['missing_gold']}"),
    ]
    if result["scores"]["n"]:
        correlations = " / ".join(number(result["scores"][k], "{:.3f}") for k in ("pearson", "spearman", "kendall"))
        lines.append(("pearson / spearman / kendall", correlations))
    return summary_table(lines)
