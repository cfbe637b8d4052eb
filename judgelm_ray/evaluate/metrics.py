"""Judge-evaluation metrics over plain lists of verdicts, defined as JudgeLM defines them.

Verdicts are labels: "1" (answer 1 better), "tie" (equal scores), "2" (answer 2 better), and
"3".."N" for multi-answer rows. A verdict of None is a parse failure that the caller's policy
chose to count as wrong (`evaluate.apply_policy`): it matches no gold label and is no class's
prediction, so it costs recall of the gold class but adds no false positive anywhere.

Definitions (JudgeLM `judgelm/llm_judge/eval_model_judgement.py`, which calls sklearn):
- agreement: accuracy, the fraction of rows whose verdict equals gold.
- precision, recall, f1: macro averages over the labels present in gold or in the predictions
  (sklearn's `average="macro"`); a label never predicted has precision 0, a label absent from
  gold has recall 0, and f1 per class is 2*tp / (gold count + predicted count).
- With both answer orders (the swapped verdict mapped back to the original order), each verdict
  is placed on a line, "1" = +1, "tie" = 0, "2" = -1. Then, over all n rows:
  consistency   = rows whose two verdicts are equal / n;
  prefer_first  = rows where swapped < forward / n: the answer shown first gained when it moved
                  there (JudgeLM's `perfer_before_rate`);
  prefer_second = rows where swapped > forward / n (`perfer_after_rate`);
  delta_bias    = |prefer_first - prefer_second|;   total_bias = prefer_first + prefer_second.
  agreement_swapped is the agreement of the swapped verdicts, agreement_both the fraction of rows
  correct in both orders. A failed verdict (None) is never consistent and prefers no position.
- Score correlations: Pearson, Spearman and Kendall (tau-b) between predicted and gold values.
- Bootstrap: rows resampled with replacement from a seeded generator; 95 % percentile intervals.
- Coverage: of the n rows that carry a confidence (the judge's probability of its verdict), keep
  the ceil(p * n / 100) most confident for p in COVERAGE_PERCENTS, ties in confidence broken by
  input order (the earlier row is kept); report the kept rows' agreement (as above) and the lowest
  confidence kept. Rows without a confidence are left out and counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ORDER_KEYS = ("agreement_swapped", "agreement_both", "consistency", "prefer_first", "prefer_second", "delta_bias", "total_bias")
COVERAGE_PERCENTS = (50, 80, 90, 100)
_POSITION = {"1": 1, "tie": 0, "2": -1}
_FAILED = "failed"
# Resampled rows held in memory at once while bootstrapping, so millions of rows stay cheap.
_BOOTSTRAP_CHUNK = 4_000_000


def label_order(labels: set[str]) -> list[str]:
    """Labels in reading order: "1", "tie", "2", then "3".."N"."""
    return sorted(labels, key=lambda label: (label != "1", label != "tie", int(label) if label.isdigit() else 0, label))


def _labels(gold: Sequence[str], predicted: Sequence[str | None]) -> list[str]:
    """Every label in gold or predicted (failures aside), in reading order."""
    return label_order(set(gold) | {p for p in predicted if p is not None})


def _matrices_to_scores(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample agreement and macro precision/recall/F1 from confusion matrices (samples, K, K+1)."""
    k = matrices.shape[1]
    tp = np.diagonal(matrices[:, :, :k], axis1=1, axis2=2).astype(float)
    gold_n = matrices.sum(axis=2).astype(float)  # includes the failed column: failures cost recall
    pred_n = matrices[:, :, :k].sum(axis=1).astype(float)
    present = (gold_n + pred_n) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_n > 0, tp / pred_n, 0.0)
        recall = np.where(gold_n > 0, tp / gold_n, 0.0)
        f1 = np.where(gold_n + pred_n > 0, 2 * tp / (gold_n + pred_n), 0.0)
        n_present = present.sum(axis=1)
        total = matrices.sum(axis=(1, 2))
        return {
            "agreement": tp.sum(axis=1) / total,
            "precision": (precision * present).sum(axis=1) / n_present,
            "recall": (recall * present).sum(axis=1) / n_present,
            "f1": (f1 * present).sum(axis=1) / n_present,
            "per_class": (precision, recall, f1, gold_n),
        }


def _codes(gold: Sequence[str], predicted: Sequence[str | None], labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    failed = len(labels)
    columns = failed + 1
    return np.array([index[g] * columns + (index[p] if p is not None else failed) for g, p in zip(gold, predicted)], dtype=np.int64)


def classification(gold: Sequence[str], predicted: Sequence[str | None]) -> dict:
    """Agreement, macro precision/recall/F1, per-class values and the confusion matrix."""
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} rows but predictions have {len(predicted)}")
    if not gold:
        return {"agreement": None, "precision": None, "recall": None, "f1": None, "per_class": {}, "confusion": None}
    labels = _labels(gold, predicted)
    k = len(labels)
    matrix = np.bincount(_codes(gold, predicted, labels), minlength=k * (k + 1)).reshape(k, k + 1)
    scores = _matrices_to_scores(matrix[None])
    precision, recall, f1, support = (values[0] for values in scores["per_class"])
    has_failures = bool(matrix[:, k].any())
    return {
        "agreement": float(scores["agreement"][0]),
        "precision": float(scores["precision"][0]),
        "recall": float(scores["recall"][0]),
        "f1": float(scores["f1"][0]),
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion": {
            "gold": labels,
            "predicted": labels + ([_FAILED] if has_failures else []),
            "matrix": (matrix if has_failures else matrix[:, :k]).tolist(),
        },
    }


def bootstrap_ci(gold: Sequence[str], predicted: Sequence[str | None], samples: int, seed: int, level: float = 0.95) -> dict | None:
    """Percentile intervals of agreement and macro F1 over `samples` resamples of the rows."""
    if samples <= 0 or not gold:
        return None
    labels = _labels(gold, predicted)
    cells = len(labels) * (len(labels) + 1)
    codes = _codes(gold, predicted, labels)
    n = len(codes)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _BOOTSTRAP_CHUNK // n)
    agreement, f1 = [], []
    for start in range(0, samples, per_chunk):
        count = min(per_chunk, samples - start)
        drawn = codes[rng.integers(0, n, size=(count, n))]
        # Offset each sample's codes into its own block so one bincount builds every matrix.
        offsets = (np.arange(count) * cells)[:, None]
        matrices = np.bincount((drawn + offsets).ravel(), minlength=count * cells).reshape(count, len(labels), -1)
        scores = _matrices_to_scores(matrices)
        agreement.append(scores["agreement"])
        f1.append(scores["f1"])
    tail = (1 - level) / 2 * 100
    interval = lambda values: [float(v) for v in np.percentile(np.concatenate(values), [tail, 100 - tail])]  # noqa: E731
    return {"level": level, "samples": samples, "seed": seed, "agreement": interval(agreement), "f1": interval(f1)}


def order_metrics(gold: Sequence[str], forward: Sequence[str | None], swapped: Sequence[str | None]) -> dict:
    """Agreement in the swapped order, in both orders, consistency and position-bias rates."""
    n = len(gold)
    if n == 0:
        return dict.fromkeys(ORDER_KEYS)
    correct_swapped = sum(s is not None and s == g for g, s in zip(gold, swapped))
    correct_both = sum(f is not None and f == g and s == g for g, f, s in zip(gold, forward, swapped))
    consistent = sum(f is not None and f == s for f, s in zip(forward, swapped))
    out = {
        "agreement_swapped": correct_swapped / n,
        "agreement_both": correct_both / n,
        "consistency": consistent / n,
        "prefer_first": None, "prefer_second": None, "delta_bias": None, "total_bias": None,
    }
    both = [(f, s) for f, s in zip(forward, swapped) if f is not None and s is not None]
    if all(f in _POSITION and s in _POSITION for f, s in both):  # positions mean nothing for 3+ answers
        first = sum(_POSITION[s] < _POSITION[f] for f, s in both)
        second = sum(_POSITION[s] > _POSITION[f] for f, s in both)
        out.update(prefer_first=first / n, prefer_second=second / n,
                   delta_bias=abs(first - second) / n, total_bias=(first + second) / n)
    return out


def correlations(predicted: Sequence[float], gold: Sequence[float]) -> dict:
    """Pearson, Spearman and Kendall between two score lists; None where undefined (n < 2, constant)."""
    from scipy import stats

    out: dict = {"n": len(predicted), "pearson": None, "spearman": None, "kendall": None}
    if len(predicted) < 2 or len(set(predicted)) < 2 or len(set(gold)) < 2:
        return out
    for name, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        value = float(test(predicted, gold)[0])
        out[name] = None if math.isnan(value) else value
    return out


def coverage(confidence: Sequence[float | None], gold: Sequence[str], predicted: Sequence[str | None],
             percents: Sequence[int] = COVERAGE_PERCENTS) -> dict | None:
    """Agreement of the most confident rows at each kept share; None when no row has a confidence."""
    if not len(confidence) == len(gold) == len(predicted):
        raise ValueError(f"confidence, gold and predictions differ in length: {len(confidence)}, {len(gold)}, {len(predicted)}")
    ranked = sorted((i for i, c in enumerate(confidence) if c is not None), key=lambda i: -confidence[i])  # stable
    if not ranked:
        return None
    levels = []
    for share in percents:
        kept = ranked[: -(-share * len(ranked) // 100)]  # ceil in integers: 0.7 * 10 is not 7 in floats
        agreement = classification([gold[i] for i in kept], [predicted[i] for i in kept])["agreement"]
        levels.append({"kept": share / 100, "rows": len(kept), "agreement": agreement,
                       "threshold": float(confidence[kept[-1]])})
    return {"with_confidence": len(ranked), "without_confidence": len(confidence) - len(ranked), "levels": levels}
