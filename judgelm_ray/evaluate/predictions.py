"""Read a judge's predictions and the gold they are scored against, and join them by id.

Prediction formats (``PREDICTION_FORMATS``):
- ``judgments``: what the judge job writes (``<output>/judgments``, a folder of Parquet), or any
  .jsonl/.json/.parquet with ``id`` and ``verdict`` ("1"/"2"/"tie", 1/2/0) or ``scores``. The
  forward-order verdict is ``verdict_forward`` where present (the judge job's ``verdict`` merges
  both orders; JudgeLM scores the forward order), else ``verdict``, else the best of ``scores``.
  ``verdict_swapped`` (in the original answer order) gives the second order; in judge-job output
  a row has one only when ``judge_text_swapped`` is set. Optional ``gold_verdict``/``gold_scores``
  and ``meta`` (JSON) are carried along, so the file can be its own gold. An optional ``confidence``
  (the judge's probability of the row's verdict, in [0, 1]; null or NaN: unknown) ranks rows for the
  agreement-vs-coverage table; files without the column have none.
- ``pandalm-gpt``: PandaLM's gpt-3.5-turbo file: ``idx``, ``gpt_result`` "1"/"2"/"Tie"/"garbage"
  (garbage = parse failure).
- ``pandalm``: PandaLM-7B's file: ``idx``, ``pandalm_result`` 0 (tie) / 1 / 2.
- ``llmbar-result``: LLMBar ``evaluators/<judge>/<strategy>/result.json``: ``results[-1]`` holds
  the winner of "swap = False" and "swap = True" (already in the original order); a null winner
  is a parse failure; ``label`` is carried as gold. The file has no ids and lists the items of
  its ``dataset.json`` in the same order, so row r gets id "dataset:<r>", the id the llmbar
  gold adapter derives for row r of that dataset.json given as its own --gold file.

Gold is any input format of the judge job, read by ``inputs.read_rows`` with the ids the judge
job derives; the first row of a duplicated gold id wins, as in judging.
"""

from __future__ import annotations

import ast
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq

from judgelm_ray import inputs, modes, storage, verdicts
from judgelm_ray.inputs.fields import RowError, finite_number, kind
from judgelm_ray.inputs.files import read_records

# The judgment columns evaluation reads; judge texts and prompts stay on disk.
_JUDGMENT_COLUMNS = (
    "id", "verdict", "verdict_forward", "verdict_swapped", "judge_text_swapped", "scores", "scores_forward",
    "gold_verdict", "gold_scores", "mode", "meta", "confidence",
)


def normalise_verdict(value, where: str) -> str | None:
    """A verdict as "1".."N" or "tie" (0 and "tie" in any case mean tie); None stays None (a failure)."""
    try:
        return verdicts.normalise_verdict(value)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _gold_scores(value, where: str) -> list[float] | None:
    """Gold scores a predictions file carries: finite numbers or None, else an error naming the row and field."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{where}: field 'gold_scores': expected a list of numbers or null, got {kind(value)}")
    try:
        return [finite_number(score, "gold_scores", i) for i, score in enumerate(value)]
    except RowError as error:
        raise ValueError(f"{where}: {error}") from None


def _confidence(value, where: str) -> float | None:
    """A row's confidence: a number in [0, 1]; None and NaN (unknown) are None, anything else an error."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{where}: field 'confidence': expected a number in [0, 1] or null, got {value!r}")
    return float(value)


def _files(path: str, what: str) -> list[tuple[str, bytes]]:
    try:
        fs, files = storage.list_input_files(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what}: no .jsonl/.json/.parquet files found at {path}") from None
    out = []
    for file in files:
        with fs.open_input_file(file) as stream:
            out.append((file, stream.read()))
    return out


def _records(path: str, what: str, columns: tuple[str, ...]) -> list[tuple[str, int, dict]]:
    """(file, row, record) for every record; Parquet reads only `columns`, so big texts stay on disk."""
    out = []
    for file, data in _files(path, what):
        if file.endswith(".parquet"):
            schema = pq.read_schema(pa.BufferReader(data))
            table = pq.read_table(pa.BufferReader(data), columns=[c for c in columns if c in schema.names])
            out.extend((file, row, record) for row, record in enumerate(table.to_pylist()))
            continue
        for row, record, error in read_records(data, file):
            if error is not None:
                raise ValueError(f"{what}: {file} row {row}: {error}")
            out.append((file, row, record))
    return out


def _meta(value) -> dict:
    if isinstance(value, str):
        return json.loads(value) if value else {}
    return value if isinstance(value, dict) else {}


def _judgment(record: dict, where: str) -> dict:
    scores = record["scores_forward"] if "scores_forward" in record else record.get("scores")
    if "verdict_forward" in record:
        forward = record["verdict_forward"]
    elif "verdict" in record:
        forward = record["verdict"]
    else:
        forward = verdicts.best_of(scores)
    if "judge_text_swapped" in record:
        both_orders = record["judge_text_swapped"] is not None
    else:
        both_orders = "verdict_swapped" in record
    return {
        "forward": normalise_verdict(forward, f"{where}: field 'verdict'"),
        "swapped": normalise_verdict(record.get("verdict_swapped"), f"{where}: field 'verdict_swapped'"),
        "both_orders": both_orders,
        "scores": scores,
        "no_verdict": record.get("mode") in modes.MODES and not modes.MODES[record["mode"]].VERDICT,
        "gold_verdict": normalise_verdict(record.get("gold_verdict"), f"{where}: field 'gold_verdict'"),
        "gold_scores": _gold_scores(record.get("gold_scores"), where),
        "meta": _meta(record.get("meta")),
        "confidence": _confidence(record.get("confidence"), where),
    }


_PANDALM_GPT = {"1": "1", "2": "2", "tie": "tie", "garbage": None}


def _pandalm_gpt(record: dict, where: str) -> dict:
    value = str(record.get("gpt_result")).strip().lower()
    if value not in _PANDALM_GPT:
        raise ValueError(f"{where}: field 'gpt_result': expected '1', '2', 'Tie' or 'garbage', got {record.get('gpt_result')!r}")
    return {"forward": _PANDALM_GPT[value]}


def _pandalm(record: dict, where: str) -> dict:
    return {"forward": normalise_verdict(record.get("pandalm_result"), f"{where}: field 'pandalm_result'")}


def _llmbar_result(record: dict, where: str) -> dict:
    results = record.get("results")
    if isinstance(results, str):  # LLMBar stores the list as Python repr text
        results = ast.literal_eval(results)
    last = results[-1] if isinstance(results, list) and results else None
    if not isinstance(last, dict) or "swap = False" not in last:
        raise ValueError(f"{where}: field 'results': expected a list whose last element holds 'swap = False'")
    winner = lambda order: normalise_verdict(last[order].get("winner"), f"{where}: {order} winner")  # noqa: E731
    out = {"forward": winner("swap = False"), "both_orders": "swap = True" in last}
    out["swapped"] = winner("swap = True") if out["both_orders"] else None
    out["gold_verdict"] = normalise_verdict(record.get("label"), f"{where}: field 'label'")
    return out


PREDICTION_FORMATS = {
    "judgments": _judgment,
    "pandalm-gpt": _pandalm_gpt,
    "pandalm": _pandalm,
    "llmbar-result": _llmbar_result,
}


def _prediction_id(fmt: str, record: dict, row: int, where: str) -> str:
    if fmt == "llmbar-result":
        return f"dataset:{row}"
    key = "id" if fmt == "judgments" else "idx"
    value = record.get(key)
    if value is None or isinstance(value, bool):
        raise ValueError(f"{where}: field '{key}': missing; predictions are joined to gold by id")
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def load_predictions(path: str, fmt: str = "judgments", group_by: tuple[str, ...] = ()) -> dict[str, dict]:
    """Predictions by id: forward/swapped verdicts, scores, and any gold and meta they carry."""
    if fmt not in PREDICTION_FORMATS:
        raise ValueError(f"unknown predictions format {fmt!r}; expected one of {tuple(PREDICTION_FORMATS)}")
    out: dict[str, dict] = {}
    first_at: dict[str, str] = {}
    for file, row, record in _records(path, "predictions", _JUDGMENT_COLUMNS + tuple(group_by)):
        where = f"{file} row {row}"
        row_id = _prediction_id(fmt, record, row, where)
        if row_id in out:
            raise ValueError(f"{where}: field 'id': duplicate id {row_id!r}, first used by {first_at[row_id]}")
        first_at[row_id] = where
        prediction = {"forward": None, "swapped": None, "both_orders": False, "scores": None, "no_verdict": False,
                      "gold_verdict": None, "gold_scores": None, "meta": {}, "confidence": None}
        prediction.update(PREDICTION_FORMATS[fmt](record, where))
        prediction["columns"] = {c: record[c] for c in group_by if c in record}
        out[row_id] = prediction
    return out


def load_gold(path: str, fmt: str, group_by: tuple[str, ...] = ()) -> dict[str, dict]:
    """Gold by id from any judge input format; rows the adapter rejected have no gold."""
    out: dict[str, dict] = {}
    for row in _gold_rows(path, fmt):
        if row["id"] in out:
            continue
        usable = row["error"] is None
        out[row["id"]] = {
            "gold_verdict": row["gold_verdict"] if usable else None,
            "gold_scores": row["gold_scores"] if usable else None,
            "meta": _meta(row["meta"]),
            "columns": {c: row[c] for c in group_by if c in row},
        }
    return out


def _gold_rows(path: str, fmt: str):
    try:
        yield from inputs.read_rows(path, fmt)
    except FileNotFoundError:
        raise FileNotFoundError(f"gold: no .jsonl/.json/.parquet files found at {path}") from None
