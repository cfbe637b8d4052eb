"""Fields of an input record: the `input.fields` mapping, the id, and typed readers for the adapters.

A reader raises `RowError` naming the field; `adapt_records` turns it into the row's `error`, so one
bad record becomes one quarantined row and never fails the file.

``fields`` ({target: source or [sources]}) renames input keys before the format adapter,
so targets are the adapter's input keys. A list gathers several columns into one list (e.g.
answers). When the file also has a key named like a target, that key is kept in meta as
"<target>_unmapped" rather than silently overwritten.
"""

from __future__ import annotations

import json
import math
from typing import Any

from judgelm_ray import verdicts


class RowError(Exception):
    """A record is unusable; `inputs.adapt_records` turns it into the row's `error`."""

    def __init__(self, field: str, what: str, index: int | None = None) -> None:
        at = f"[{index}]" if index is not None else ""
        super().__init__(f"field '{field}'{at}: {what}")


# ---------------------------------------------------------------- the input.fields mapping

def _sources(source: str | list[str]) -> list[str]:
    return [source] if isinstance(source, str) else source


def check_fields(fields: dict[str, str | list[str]] | None) -> None:
    """A malformed mapping would spoil every row alike: a configuration error, raised at once."""
    for target, source in (fields or {}).items():
        names = _sources(source)
        if not isinstance(target, str) or not isinstance(names, list) or not names \
                or not all(isinstance(n, str) for n in names):
            raise ValueError(f"fields[{target!r}] must be a key name or a non-empty list of key names, got {source!r}")


def apply_fields(record: dict, fields: dict[str, str | list[str]] | None) -> dict:
    if not fields:
        return record
    used = {name for source in fields.values() for name in _sources(source)}
    out = {k: v for k, v in record.items() if k not in used}
    for target, source in fields.items():
        for name in _sources(source):
            if name not in record:
                raise RowError(target, f"source key '{name}' is missing; fix the file or the field mapping")
        if target in out:  # the file's own key of that name was not chosen: keep it in meta
            out[f"{target}_unmapped"] = out.pop(target)
        out[target] = record[source] if isinstance(source, str) else [record[n] for n in source]
    return out


def input_id(record: dict, key: str) -> str | None:
    """The record's own id (strings kept, integers stringified), or None when absent or blank."""
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if not is_utf8(value):
            raise RowError(key, "text with a lone surrogate (an unpaired \\ud800-\\udfff escape); fix the escape")
        return value
    number = as_int(value)
    if number is None:
        raise RowError(key, f"expected a string or integer id, got {kind(value)}")
    return str(number)


# ---------------------------------------------------------------- typed readers
def is_utf8(text: str) -> bool:
    """False for text with a lone surrogate: JSON's "\\ud800" escape parses, but UTF-8 (and Arrow) cannot hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True



def kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_int(value: Any) -> int | None:
    """An integer, also from an integer-valued float (pandas-written Parquet turns int columns with nulls into floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def text(rec: dict, key: str) -> str:
    if key not in rec:
        raise RowError(key, "missing")
    value = rec[key]
    if not isinstance(value, str):
        raise RowError(key, f"expected a string, got {kind(value)}")
    return value


def optional_text(value: Any, field: str, expected: str = "a string") -> str | None:
    if value is not None and not isinstance(value, str):
        raise RowError(field, f"expected {expected} or null, got {kind(value)}")
    return value


def answers(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise RowError(field, f"expected a list of strings, got {kind(value)}")
    for i, answer in enumerate(value):
        if not isinstance(answer, str):
            raise RowError(field, f"expected a string, got {kind(answer)}", i)
    return value


def verdict(value: Any, field: str, n_answers: int) -> str | None:
    """A gold verdict as "1".."N" or "tie" (0 means tie, as in PandaLM)."""
    try:
        return verdicts.normalise_verdict(value, n_answers)
    except ValueError as error:
        raise RowError(field, str(error)) from None


def scores(value: Any, field: str, n_answers: int) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError(field, f"expected a list of numbers, got {kind(value)}")
    numbers = [finite_number(score, field, i) for i, score in enumerate(value)]
    if len(numbers) != n_answers:
        raise RowError(field, f"has {len(numbers)} scores for {n_answers} answers; give one score per answer")
    return numbers


def finite_number(value: Any, field: str, index: int | None = None) -> float:
    """A score as a float. NaN and Infinity parse from JSON (and Parquet holds them), but a NaN gold
    score compares false with everything and turns every correlation into NaN, so they are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RowError(field, f"expected a number, got {kind(value)}", index)
    try:
        number = float(value)
    except OverflowError:  # an integer too long for a float: as unusable as Infinity
        number = math.inf
    if not math.isfinite(number):
        raise RowError(field, f"expected a finite number, got {value!r:.40}; give a real score or null", index)
    return number


def rest(rec: dict, mapped: set[str]) -> dict:
    """The keys no canonical column took: they go to `meta`."""
    return {k: v for k, v in rec.items() if k not in mapped}


def dumps(value: Any, sort_keys: bool = False) -> str:
    # default=str: Parquet can hold dates, decimals and bytes that JSON has no type for
    return json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, default=str)


def images(value: Any, field: str) -> list[dict] | None:
    """Image references as [{"path", "bytes"}]: a path (local or s3://), the image's bytes (Parquet), or a
    mapping with either, as Hugging Face datasets stores an Image. Loading and checking them is the judge
    job's (`inputs.images`), where a missing or broken image quarantines the row."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError(field, f"expected a list of image paths, bytes or {{path, bytes}}, got {kind(value)}")
    out = []
    for i, image in enumerate(value):
        if isinstance(image, str) and image.strip():
            out.append({"path": image, "bytes": None})
        elif isinstance(image, (bytes, bytearray)) and image:
            out.append({"path": None, "bytes": bytes(image)})
        elif isinstance(image, dict) and set(image) <= {"path", "bytes"} and (image.get("path") or image.get("bytes")):
            path, data = image.get("path"), image.get("bytes")
            if path is not None and not isinstance(path, str) or data is not None and not isinstance(data, bytes):
                raise RowError(field, "expected a str path and/or bytes", i)
            out.append({"path": path, "bytes": data})
        else:
            raise RowError(field, f"expected an image path, bytes or {{path, bytes}}, got {kind(image)}", i)
    return out
