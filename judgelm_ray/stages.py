"""The pure stages of the judge pipeline, each a function over a pyarrow batch.

input files -> adapt -> validate + prompt (quarantine reason or prompts) -> [engine actor] -> parse + merge

Every stage returns a table with a fixed schema: Ray Data concatenates blocks from many tasks,
and a column that happens to be all-null in one batch must still have the same type as in the
others. Nothing here imports Ray, so each stage is unit-tested on plain tables.
"""

from __future__ import annotations

import functools
import os

import pyarrow as pa

from judgelm_ray import prompts, records, verdicts
from judgelm_ray.model_store import ensure_local_model
from judgelm_ray.spec import JudgeSpec
from judgelm_ray.storage import INPUT_EXTENSIONS

CANONICAL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("reference", pa.string()),
        ("gold_verdict", pa.string()),
        ("gold_scores", pa.list_(pa.float64())),
        ("meta", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
        ("raw", pa.string()),
        ("error", pa.string()),
    ]
)

PREPARED_SCHEMA = CANONICAL_SCHEMA.remove(CANONICAL_SCHEMA.get_field_index("error")).append(
    pa.field("quarantine_reason", pa.string())
)
for _name, _type in [
    ("use_reference", pa.bool_()),
    ("prompt_forward", pa.string()),
    ("prompt_swapped", pa.string()),
    ("prompt_tokens_forward", pa.int64()),
    ("prompt_tokens_swapped", pa.int64()),
]:
    PREPARED_SCHEMA = PREPARED_SCHEMA.append(pa.field(_name, _type))

# What the engine actor adds to a prepared batch.
GENERATION_FIELDS = [
    ("judge_text_forward", pa.string()),
    ("judge_text_swapped", pa.string()),
    ("completion_tokens_forward", pa.int64()),
    ("completion_tokens_swapped", pa.int64()),
]

QUARANTINE_SCHEMA = pa.schema(
    [("id", pa.string()), ("source", pa.string()), ("row", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
)

_SCORES = pa.list_(pa.float64())
JUDGMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("verdict", pa.string()),
        ("scores", _SCORES),
        ("verdict_forward", pa.string()),
        ("verdict_swapped", pa.string()),
        ("consistent", pa.bool_()),
        ("parse_error", pa.string()),
        ("scores_forward", _SCORES),
        ("scores_swapped", _SCORES),
        ("judge_text_forward", pa.string()),
        ("judge_text_swapped", pa.string()),
        ("prompt_tokens_forward", pa.int64()),
        ("prompt_tokens_swapped", pa.int64()),
        ("completion_tokens_forward", pa.int64()),
        ("completion_tokens_swapped", pa.int64()),
        ("mode", pa.string()),
        ("used_reference", pa.bool_()),
        ("model", pa.string()),
        ("engine", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("reference", pa.string()),
        ("gold_verdict", pa.string()),
        ("gold_scores", _SCORES),
        ("meta", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
    ]
)


def id_prefix(path: str, root: str) -> str:
    """Prefix of derived ids: the file's path under the input root, without extension.

    Relative to the root (not the bare file name) so two `data.jsonl` in different folders of one
    input do not derive the same ids.
    """
    relative = os.path.relpath(path, root) if root else os.path.basename(path)
    for ext in sorted(INPUT_EXTENSIONS, key=len, reverse=True):
        if relative.lower().endswith(ext):
            return relative[: -len(ext)]
    return relative


def adapt_files(batch: pa.Table, fmt: str, fields: dict | None, root: str) -> pa.Table:
    """Binary input files (`bytes`, `path`) -> canonical rows, one per input record."""
    rows: list[dict] = []
    for data, path in zip(batch.column("bytes").to_pylist(), batch.column("path").to_pylist()):
        rows.extend(records.adapt_records(data, path, fmt, fields or None, id_prefix=id_prefix(path, root)))
    return pa.Table.from_pylist(rows, schema=CANONICAL_SCHEMA)


@functools.lru_cache(maxsize=4)
def load_tokenizer(model: str):
    """Tokenizer and context length of the judge model, loaded once per worker process."""
    from transformers import AutoConfig, AutoTokenizer

    model = ensure_local_model(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    config = AutoConfig.from_pretrained(model)
    return tokenizer, getattr(config, "max_position_embeddings", None)


def use_reference(row: dict, policy: str) -> bool:
    if policy == "never":
        return False
    if policy == "always":
        return True
    return bool(row.get("reference") and row["reference"].strip())


def row_prompts(row: dict, judge: JudgeSpec) -> tuple[str, str | None]:
    """The forward prompt and, with `judge.swap`, the prompt with the answers in reversed order."""
    with_reference = use_reference(row, judge.reference)
    answers = row["answers"]
    forward = prompts.build_prompt(row["question"], answers, row["reference"], judge.mode, with_reference)
    swapped = None
    if judge.swap:
        swapped = prompts.build_prompt(row["question"], answers[::-1], row["reference"], judge.mode, with_reference)
    return forward, swapped


def quarantine_reason(row: dict, judge: JudgeSpec, first_seen: dict[str, tuple[str, int]]) -> str | None:
    """Why a canonical row cannot be judged, or None. Checks run cheapest first."""
    if row["error"]:
        return row["error"]
    reason = records.validate_row(row, judge.mode, judge.reference)
    if reason:
        return reason
    first = first_seen.get(row["id"])
    if first is not None and first != (row["source"], row["row"]):
        return records.duplicate_reason(row, first[0], first[1])
    return None


def prepare_rows(batch: pa.Table, judge: JudgeSpec, first_seen: dict[str, tuple[str, int]]) -> pa.Table:
    """Canonical rows -> rows with either a quarantine reason or the prompts the engine will get.

    `first_seen` maps each duplicated id to the (source, row) of its first occurrence; every later
    occurrence is quarantined. Prompts longer than the model can take with `max_tokens` of room
    are quarantined here rather than failing inside the engine.
    """
    tokenizer, model_max_len = load_tokenizer(judge.model)
    max_len = judge.max_model_len or model_max_len
    out = []
    for row in batch.to_pylist():
        prepared = {k: v for k, v in row.items() if k != "error"}
        prepared.update(quarantine_reason=quarantine_reason(row, judge, first_seen), use_reference=None)
        prepared.update(prompt_forward=None, prompt_swapped=None)
        prepared.update(prompt_tokens_forward=None, prompt_tokens_swapped=None)
        if prepared["quarantine_reason"] is None:
            forward, swapped = row_prompts(row, judge)
            lengths = [len(tokenizer(p).input_ids) for p in (forward, swapped) if p is not None]
            prepared.update(use_reference=use_reference(row, judge.reference))
            prepared.update(prompt_forward=forward, prompt_swapped=swapped)
            prepared.update(prompt_tokens_forward=lengths[0], prompt_tokens_swapped=lengths[1] if swapped else None)
            if max_len and max(lengths) + judge.sampling.max_tokens > max_len:
                prepared["quarantine_reason"] = (
                    f"{row['source']} row {row['row']}: field 'answers': prompt is {max(lengths)} tokens; with "
                    f"judge.sampling.max_tokens={judge.sampling.max_tokens} it exceeds the model's context of "
                    f"{max_len} tokens (raise judge.max_model_len if the model allows, or lower max_tokens)"
                )
        out.append(prepared)
    return pa.Table.from_pylist(out, schema=PREPARED_SCHEMA)


def quarantine_rows(batch: pa.Table) -> pa.Table:
    """Prepared rows that were quarantined, as the quarantine file keeps them: row, place, reason."""
    rows = [
        {"id": r["id"], "source": r["source"], "row": r["row"], "reason": r["quarantine_reason"], "raw": r["raw"]}
        for r in batch.to_pylist()
    ]
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def parse_judgments(batch: pa.Table, judge: JudgeSpec) -> pa.Table:
    """Engine output -> scores and verdicts per order, merged into one judgment per input row."""
    out = []
    for row in batch.to_pylist():
        n_answers = len(row["answers"])
        forward = verdicts.parse_output(row["judge_text_forward"], judge.mode, n_answers, judge.parse)
        swapped = None
        if row["judge_text_swapped"] is not None:
            swapped = verdicts.parse_output(row["judge_text_swapped"], judge.mode, n_answers, judge.parse)
        merged = verdicts.merge_orders(forward, swapped)
        if judge.mode == "single":
            # One graded answer has no winner; its score is the result.
            merged.update(verdict=None, verdict_forward=None, verdict_swapped=None)
        judgment = {name: row.get(name) for name in JUDGMENT_SCHEMA.names}
        judgment.update(merged)
        judgment.update(mode=judge.mode, used_reference=row["use_reference"], model=judge.model, engine=judge.engine)
        out.append(judgment)
    return pa.Table.from_pylist(out, schema=JUDGMENT_SCHEMA)


def judgment_stats(batch: pa.Table) -> pa.Table:
    """Partial sums over one batch of judgments; the driver adds the partials up."""
    rows = batch.select(
        ["parse_error", "consistent", "prompt_tokens_forward", "prompt_tokens_swapped",
         "completion_tokens_forward", "completion_tokens_swapped"]
    ).to_pylist()
    tokens = lambda key: sum(r[key] or 0 for r in rows)  # noqa: E731 - a local shorthand
    return pa.Table.from_pylist(
        [
            {
                "judged": len(rows),
                "parse_failures": sum(r["parse_error"] is not None for r in rows),
                "both_orders": sum(r["consistent"] is not None for r in rows),
                "consistent": sum(bool(r["consistent"]) for r in rows),
                "prompt_tokens": tokens("prompt_tokens_forward") + tokens("prompt_tokens_swapped"),
                "completion_tokens": tokens("completion_tokens_forward") + tokens("completion_tokens_swapped"),
            }
        ]
    )
