"""Joined evaluation rows -> every number of metrics.json but the join counts.

Metric definitions: `judgelm_ray.evaluate.metrics`. Rows of a mode without a verdict (single-
answer grading) count only towards score correlations, so they have no coverage table either.

Parse failures (a null verdict) follow a policy, and their number is always reported:
- tie (default): counted as a tie, as JudgeLM (unparseable scores become [-1, -1], equal) and
  PandaLM ("garbage" counted as tie) do;
- exclude: a row with a failure in either order is left out of every metric;
- wrong: counted as a miss for the gold class, and as inconsistent across orders.
"""

from __future__ import annotations

from judgelm_ray.evaluate import metrics

POLICIES = ("tie", "exclude", "wrong")


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown parse-failure policy {policy!r}; expected one of {POLICIES}")


def apply_policy(rows: list[dict], policy: str) -> tuple[list[dict], dict]:
    """Verdict rows (gold + forward [+ swapped]) under the parse-failure policy, and failure counts."""
    check_policy(policy)
    verdict_rows = [r for r in rows if not r["no_verdict"] and r["gold_verdict"] is not None]
    forward_failed = sum(r["forward"] is None for r in verdict_rows)
    swapped_failed = sum(r["both_orders"] and r["swapped"] is None for r in verdict_rows)
    out = []
    for row in verdict_rows:
        forward, swapped = row["forward"], row["swapped"] if row["both_orders"] else None
        failed = forward is None or (row["both_orders"] and swapped is None)
        if policy == "exclude" and failed:
            continue
        if policy == "tie":
            forward = forward or "tie"
            swapped = (swapped or "tie") if row["both_orders"] else None
        out.append({**row, "forward": forward, "swapped": swapped})
    failures = {"policy": policy, "forward": forward_failed, "swapped": swapped_failed,
                "excluded": len(verdict_rows) - len(out)}
    return out, failures


def verdict_metrics(rows: list[dict]) -> dict:
    """Classification and order metrics of policy-applied rows; order metrics over rows with both orders."""
    gold = [r["gold_verdict"] for r in rows]
    result = {"n": len(rows), **metrics.classification(gold, [r["forward"] for r in rows])}
    both = [r for r in rows if r["both_orders"]]
    if both:
        result.update(metrics.order_metrics([r["gold_verdict"] for r in both], [r["forward"] for r in both],
                                             [r["swapped"] for r in both]))
    else:
        result.update(dict.fromkeys(metrics.ORDER_KEYS))
    result["both_orders"] = len(both)
    return result


def score_pairs(rows: list[dict]) -> tuple[list[float], list[float]]:
    """(predicted, gold) values per row with both: the score of one graded answer, or answer 1 - answer 2."""
    predicted, gold = [], []
    for row in rows:
        mine, truth = row["scores"], row["gold_scores"]
        if not mine or not truth or len(mine) != len(truth) or len(mine) > 2:
            continue
        predicted.append(mine[0] - mine[1] if len(mine) == 2 else mine[0])
        gold.append(truth[0] - truth[1] if len(truth) == 2 else truth[0])
    return predicted, gold


def compute_metrics(rows: list[dict], policy: str = "tie", group_by: tuple[str, ...] = (), bootstrap: int = 1000, seed: int = 0) -> dict:
    """Every metric of metrics.json except the join counts, from joined rows."""
    verdict_rows, failures = apply_policy(rows, policy)
    result = verdict_metrics(verdict_rows)
    gold = [r["gold_verdict"] for r in verdict_rows]
    result["ci"] = metrics.bootstrap_ci(gold, [r["forward"] for r in verdict_rows], bootstrap, seed)
    result["parse_failures"] = failures
    # The forward verdicts ranked by the row's confidence; None when no row has one (older judgments).
    result["coverage"] = metrics.coverage([r.get("confidence") for r in verdict_rows], gold,
                                          [r["forward"] for r in verdict_rows])
    result["scores"] = metrics.correlations(*score_pairs(rows))
    result["groups"] = {}
    for column in group_by:
        values = sorted({r["groups"][column] for r in verdict_rows})
        result["groups"][column] = {
            value: _group_summary(verdict_metrics([r for r in verdict_rows if r["groups"][column] == value]))
            for value in values
        }
    return result


def _group_summary(values: dict) -> dict:
    keys = ("n", "agreement", "precision", "recall", "f1", *metrics.ORDER_KEYS)
    return {key: values[key] for key in keys}
