"""Which judgment rows the inspect page lists, chosen in bounded memory whatever the run's size.

Two passes over <output>/judgments, file by file and batch by batch:

1. selection (`select_rows`), reading only the small columns: counts per category over all rows,
   the first `limit` rows of each category in reading order, and the `limit` smallest score
   margins (a heap). The tests of a batch are vectorised (pyarrow.compute, numpy): a million rows
   take seconds;
2. fetch (`fetch_rows`): the full rows (question, answers, reference, judge texts, and where the file
   has them the dialogue turns, template and rubric) of the selected rows only, from the files that
   hold them. A file written before a column existed simply lacks that key in its rows.

A row is named by its key, (file index, row index in the file).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from judgelm_ray import storage
from judgelm_ray.verdicts import best_of

# In page order; "close_call" is the smallest score margins, a ranking rather than a test.
CATEGORIES = ("inconsistent", "parse_failure", "gold_disagreement", "close_call")
# What the selection pass reads: no long text, so a batch of a million-row run costs a few MB.
SELECTION_COLUMNS = ("verdict", "verdict_forward", "consistent", "parse_error", "scores", "gold_verdict",
                     "gold_scores")
_BATCH_ROWS = 8192


def score_margin(scores: list[float] | None) -> float | None:
    """The gap between the two best scores (|s1 - s2| for a pair); None without two scores."""
    if not scores or len(scores) < 2 or any(s is None or math.isnan(s) for s in scores):
        return None
    best, second = heapq.nlargest(2, scores)
    return float(best - second)


def gold_label(row: dict) -> str | None:
    """The gold verdict of a row, from its scores where it has no verdict (as the evaluation joins it)."""
    return row.get("gold_verdict") or best_of(row.get("gold_scores"))


def _column(batch: pa.RecordBatch, name: str, kind: pa.DataType) -> pa.Array:
    """A column of the batch, or nulls where its file has no such column."""
    return batch.column(name) if name in batch.schema.names else pa.nulls(batch.num_rows, kind)


def _flag(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool)


def _lengths(lists: pa.ListArray) -> np.ndarray:
    return pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)


def _pairs(lists: pa.ListArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two values of the two-element lists at `rows`, as arrays (a null value is NaN)."""
    # `offsets` index into `values`, which ignores a slice's offset: the two agree.
    starts = lists.offsets.to_numpy()[rows]
    values = lists.values.to_numpy(zero_copy_only=False)
    return values[starts], values[starts + 1]


def batch_margins(scores: pa.ListArray) -> np.ndarray:
    """score_margin of every row (NaN where none); pairs without a Python loop, a million rows a second."""
    margins = np.full(len(scores), np.nan)
    lengths = _lengths(scores)
    pairs = np.flatnonzero(lengths == 2)
    first, second = _pairs(scores, pairs)
    margins[pairs] = np.abs(first - second)  # NaN where a score is null: no margin
    for i in np.flatnonzero(lengths > 2):  # multi-answer rows
        margin = score_margin(scores[int(i)].as_py())
        margins[i] = np.nan if margin is None else margin
    return margins


def batch_gold(batch: pa.RecordBatch) -> pa.Array:
    """gold_label of every row: the gold verdict, from the gold scores only where there is none."""
    verdict = _column(batch, "gold_verdict", pa.string())
    scores = _column(batch, "gold_scores", pa.list_(pa.float64()))
    missing = _flag(pc.is_null(verdict))
    if not missing.any():
        return verdict
    labels = verdict.to_numpy(zero_copy_only=False)
    lengths = _lengths(scores)
    pairs = np.flatnonzero(missing & (lengths == 2))
    first, second = _pairs(scores, pairs)
    labels[pairs] = np.where(first > second, "1", np.where(second > first, "2", "tie"))  # best_of, vectorised
    labels[pairs[np.isnan(first) | np.isnan(second)]] = None
    for i in np.flatnonzero(missing & (lengths > 2)):
        labels[i] = best_of(scores[int(i)].as_py())
    return pa.array(labels, pa.string())


def batch_categories(batch: pa.RecordBatch, gold: pa.Array | None = None) -> dict[str, np.ndarray]:
    """A boolean mask per category but the score margin (a ranking, not a test), over a batch's rows.

    order-inconsistent: `consistent` is false (both orders parsed and differ); parse failure: a
    `parse_error`; disagrees with gold: a forward verdict differing from the gold label (a failure
    has no verdict: it counts once, as a failure). `gold`: the batch's `batch_gold`, if known.
    """
    predicted = _column(batch, "verdict_forward" if "verdict_forward" in batch.schema.names else "verdict",
                        pa.string())
    return {
        "inconsistent": _flag(pc.equal(_column(batch, "consistent", pa.bool_()), False)),
        "parse_failure": _flag(pc.is_valid(_column(batch, "parse_error", pa.string()))),
        "gold_disagreement": _flag(pc.not_equal(predicted, batch_gold(batch) if gold is None else gold)),
    }


@dataclass
class Selection:
    """The selection pass's state: bounded by `limit` rows per category whatever the run's size.

    A row is named by its key (file index, row index in the file), so the fetch pass can find it.
    """

    limit: int
    rows: int = 0
    has_gold: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    first: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    # Max-heap by margin (negated), ties broken towards the row read first, so the choice is stable.
    _closest: list[tuple[float, int, tuple[int, int]]] = field(default_factory=list)
    margins: dict[float, int] = field(default_factory=dict)  # margin (one decimal) -> rows, for the plot

    def add_batch(self, file_index: int, first_row: int, batch: pa.RecordBatch) -> None:
        """A batch of judgment columns; its rows are numbered from `first_row` in their file."""
        gold = batch_gold(batch)
        self.has_gold = self.has_gold or gold.null_count < batch.num_rows
        for category, mask in batch_categories(batch, gold).items():
            self.counts[category] += int(mask.sum())
            need = self.limit - len(self.first[category])
            if need > 0:
                self.first[category] += [(file_index, first_row + int(i)) for i in np.flatnonzero(mask)[:need]]
        margins = batch_margins(_column(batch, "scores", pa.list_(pa.float64())))
        scored = np.flatnonzero(~np.isnan(margins))
        self.counts["close_call"] += len(scored)
        values, counts = np.unique(np.round(margins[scored], 1), return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            self.margins[value] = self.margins.get(value, 0) + count
        # Only a batch's `limit` smallest can enter the heap; a stable sort keeps ties in reading order.
        for i in scored[np.argsort(margins[scored], kind="stable")[: self.limit]].tolist():
            entry = (-float(margins[i]), -(self.rows + i), (file_index, first_row + i))
            if len(self._closest) < self.limit:
                heapq.heappush(self._closest, entry)
            elif entry > self._closest[0]:
                heapq.heapreplace(self._closest, entry)
            else:
                break  # sorted: the rest of the batch is no closer
        self.rows += batch.num_rows

    def categories(self) -> list[str]:
        """The categories the page shows: no gold category for a run without gold."""
        return [c for c in CATEGORIES if c != "gold_disagreement" or self.has_gold]

    def selected(self) -> dict[tuple[int, int], dict]:
        """Key -> {categories, margin} of every selected row, in page order (category, then rank)."""
        closest = sorted(self._closest, key=lambda e: (-e[0], -e[1]))
        picked: dict[tuple[int, int], dict] = {}
        lists = {**self.first, "close_call": [key for _, _, key in closest]}
        for category in self.categories():
            for key in lists[category]:
                picked.setdefault(key, {"categories": [], "margin": None})["categories"].append(category)
        for negated, _, key in closest:
            picked[key]["margin"] = -negated
        return picked


def judgment_files(folder: str) -> tuple[pafs.FileSystem, list[str]]:
    """The committed Parquet files of a judgments folder (local or s3://), sorted; none if it is absent."""
    fs, inner = storage.filesystem_for(folder)
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    return fs, sorted(i.path for i in infos if i.is_file and i.path.endswith(".parquet"))


def _batches(fs: pafs.FileSystem, path: str, columns: tuple[str, ...] | None):
    """(first row, batch) of one Parquet file, reading only `columns` (those it has)."""
    with fs.open_input_file(path) as stream:
        parquet = pq.ParquetFile(stream)
        wanted = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
        first = 0
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=wanted):
            yield first, batch
            first += batch.num_rows


def select_rows(fs: pafs.FileSystem, files: list[str], limit: int) -> Selection:
    """The selection pass over every judgment file."""
    selection = Selection(limit)
    for index, path in enumerate(files):
        for first, batch in _batches(fs, path, SELECTION_COLUMNS):
            selection.add_batch(index, first, batch)
    return selection


def fetch_rows(fs: pafs.FileSystem, files: list[str], keys) -> dict[tuple[int, int], dict]:
    """The full rows of `keys`, reading only the files that hold one, a batch at a time."""
    wanted: dict[int, set[int]] = {}
    for file_index, row in keys:
        wanted.setdefault(file_index, set()).add(row)
    found = {}
    for file_index, rows in sorted(wanted.items()):
        for first, batch in _batches(fs, files[file_index], None):
            inside = sorted(r - first for r in rows if first <= r < first + batch.num_rows)
            if inside:
                for offset, row in zip(inside, batch.take(inside).to_pylist()):
                    found[(file_index, first + offset)] = row
    return found
