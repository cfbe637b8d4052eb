"""The Arrow schemas of the judge pipeline's batches and of the files it writes.

Every stage returns a table with a fixed schema: Ray Data concatenates blocks from many tasks,
and a column that happens to be all-null in one batch must still have the same type as in the
others.
"""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.inputs.canonical import SCHEMA as CANONICAL_SCHEMA
from judgelm_ray.inputs.canonical import TURNS

# One request per (row, answer order), as token ids: the CPU stage that checks prompt lengths
# tokenizes once, and the engine actor fills in `text` and `completion_tokens`.
REQUEST = pa.struct(
    [
        ("order", pa.string()),
        ("prompt_token_ids", pa.list_(pa.int32())),
        # What an API judge gets instead of token ids (`stages.sent_as`): the raw prompt, or chat messages.
        ("prompt_text", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("prompt_tokens", pa.int64()),
        ("text", pa.string()),
        ("completion_tokens", pa.int64()),
        # The row's images, loaded and checked by the CPU stage, for a vision-language judge.
        ("images", pa.list_(pa.binary())),
        # Why the engine could not answer (text is then null): it refused the prompt (longer than its context
        # once images expand), or an API request failed after its retries. The row is then quarantined.
        ("engine_error", pa.string()),
        # With judge.logprobs: the score line's tokens, each with its top candidates (engines.base.TokenLogprobs).
        ("logprobs", pa.list_(pa.struct([
            ("token", pa.string()),
            ("top", pa.list_(pa.struct([("token", pa.string()), ("logprob", pa.float64())]))),
        ]))),
    ]
)
REQUESTS = pa.list_(REQUEST)

# `judge.guard`'s findings (`guard.Flag`): one per (field, delimiter) at its first occurrence. Null when
# the guard is off (or the row was quarantined before it looked), an empty list when it found nothing.
INJECTION_FLAG = pa.struct(
    [("field", pa.string()), ("kind", pa.string()), ("delimiter", pa.string()), ("offset", pa.int64())]
)
INJECTION_FLAGS = pa.list_(INJECTION_FLAG)

# A canonical row with either a quarantine reason or the requests the engine will get.
PREPARED_SCHEMA = (
    CANONICAL_SCHEMA.remove(CANONICAL_SCHEMA.get_field_index("error"))
    .append(pa.field("quarantine_reason", pa.string()))
    .append(pa.field("use_reference", pa.bool_()))
    .append(pa.field("requests", REQUESTS))
    .append(pa.field("injection_flags", INJECTION_FLAGS))
)

QUARANTINE_SCHEMA = pa.schema(
    [("id", pa.string()), ("source", pa.string()), ("row", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
)

_SCORES = pa.list_(pa.float64())
# What users read in <output>/judgments: per-order columns stay named by order.
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
        # With judge.logprobs (`score_signal`): probability-weighted scores, and the verdict's probability.
        ("expected_scores", _SCORES),
        ("expected_scores_forward", _SCORES),
        ("expected_scores_swapped", _SCORES),
        ("confidence", pa.float64()),
        ("margin", pa.float64()),
        ("judge_text_forward", pa.string()),
        ("judge_text_swapped", pa.string()),
        ("prompt_tokens_forward", pa.int64()),
        ("prompt_tokens_swapped", pa.int64()),
        ("completion_tokens_forward", pa.int64()),
        ("completion_tokens_swapped", pa.int64()),
        ("mode", pa.string()),
        ("template", pa.string()),
        ("used_reference", pa.bool_()),
        ("injection_flags", INJECTION_FLAGS),
        ("model", pa.string()),
        ("engine", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("reference", pa.string()),
        ("turns", TURNS),
        ("answer_turns", pa.list_(TURNS)),
        ("reference_turns", TURNS),
        ("rubric", pa.string()),
        ("gold_verdict", pa.string()),
        ("gold_scores", _SCORES),
        ("meta", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
    ]
)
