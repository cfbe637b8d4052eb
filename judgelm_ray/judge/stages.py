"""The pure stages of the judge pipeline, each a function over a pyarrow batch.

canonical rows (`reading`) -> prepare (quarantine reason, or the row's requests as token ids and
its injection flags) -> [engine actor] -> parse + merge

What a mode asks and how its answers are read come from `judgelm_ray.modes`; the batch schemas
from `schemas`. Nothing here imports Ray, so each stage is unit-tested on plain tables.
"""

from __future__ import annotations

import functools
import os

import pyarrow as pa

from judgelm_ray import families, modes, score_signal, storage, tokenizer
from judgelm_ray.engines.base import TokenLogprobs
from judgelm_ray.inputs import images
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.judge import guard
from judgelm_ray.judge.schemas import JUDGMENT_SCHEMA, PREPARED_SCHEMA, QUARANTINE_SCHEMA
from judgelm_ray.model_store import ensure_local_model
from judgelm_ray.modes import common
from judgelm_ray.spec import JudgeSpec


@functools.lru_cache(maxsize=4)
def load_tokenizer(model: str) -> tuple[tokenizer.Tokenizer, int | None]:
    """The judge model's encoder and context length, loaded once per worker process."""
    # One thread per tokenizer: Ray runs many CPU tasks side by side, and the tokenizer's own
    # thread pool would compete with them (and with the engine actors) for the same cores.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    model = ensure_local_model(model)
    encoder = tokenizer.Tokenizer(model)
    conflicts = guard.template_conflicts(encoder.special_tokens)
    if conflicts:
        raise ValueError(
            f"judge.model: the tokenizer of {model} has special tokens {conflicts} that the JudgeLM template's own "
            "text contains; they would be encoded as plain text, so the prompt would not be the one the judge "
            "was trained on. Use a tokenizer without them"
        )
    return encoder, tokenizer.context_length(model)


def validate_row(row: dict, mode: str, reference_policy: str, template: str = "judgelm") -> str | None:
    """Why an adapted row cannot be judged in `mode` under `reference_policy` with the judge family
    `template`, or None."""
    judging = modes.get(mode)
    if reference_policy not in modes.REFERENCE_POLICIES:
        raise ValueError(f"unknown reference_policy {reference_policy!r}; expected one of {modes.REFERENCE_POLICIES}")
    if row["error"] is not None:
        return row["error"]
    where = common.where(row)
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        return f"{where}: field 'question': empty; give the question text"
    reason = judging.check(row)
    if reason:
        return reason
    if reference_policy == "always" and not has_reference(row):
        return (f"{where}: field 'reference': missing; reference_policy 'always' needs one on every row "
                "(use 'auto' to judge rows without a reference)")
    return families.get(template).check(row, mode, modes.use_reference(row, reference_policy))


def duplicate_reason(row: dict, first_source: str, first_row: int) -> str:
    """Reason for a row whose id an earlier row already used."""
    return (f"{row['source']} row {row['row']}: field 'id': duplicate id {row['id']!r}, first used by "
            f"{first_source} row {first_row}; give every record a unique id")


def shown_reference(row: dict, judge: JudgeSpec) -> str | None:
    """The reference text the row's prompts show, or None; JudgeLM's single grading always shows it, as
    Assistant 1."""
    shown = (judge.mode == "single" and judge.template.startswith("judgelm")) or modes.use_reference(row, judge.reference)
    return row["reference"] if shown else None


def injection_flags(row: dict, judge: JudgeSpec, special_tokens: tuple[str, ...]) -> list[guard.Flag] | None:
    """The template delimiters and special tokens found in the text a valid row's prompts show
    (`guard.Flag`s; [] when none); None with `judge.guard: off`."""
    if judge.guard == "off":
        return None
    fields = guard.row_fields(row["question"], row["answers"], shown_reference(row, judge), row)
    return guard.find_injections(fields, special_tokens, families.get(judge.template).DELIMITERS)


def quarantine_reason(
    row: dict, judge: JudgeSpec, first_seen: dict[str, tuple[str, int]], special_tokens: tuple[str, ...] = ()
) -> str | None:
    """Why a canonical row cannot be judged, or None. Checks run cheapest first.

    `special_tokens` are the tokenizer's, looked for by `judge.guard: quarantine`; without them
    (`judgelm-ray render`, which loads no tokenizer) only the template's delimiters are.
    """
    reason = validate_row(with_rubric(row, judge), judge.mode, judge.reference, judge.template)
    if reason:
        return reason
    first = first_seen.get(row["id"])
    if first is not None and first != (row["source"], row["row"]):
        return duplicate_reason(row, first[0], first[1])
    if judge.guard == "quarantine":
        flags = injection_flags(row, judge, special_tokens)
        if flags:
            return guard.quarantine_reason(common.where(row), flags)
    return None


def with_rubric(row: dict, judge: JudgeSpec) -> dict:
    """The row with its own rubric, or else `judge.rubric`."""
    return row if row.get("rubric") or judge.rubric is None else {**row, "rubric": judge.rubric}


def row_requests(row: dict, judge: JudgeSpec) -> list[modes.Request]:
    """The requests a valid row becomes: the forward order and, with `judge.swap`, the swapped one."""
    family = families.get(judge.template)
    return modes.requests(with_rubric(row, judge), judge.mode, family, modes.use_reference(row, judge.reference), judge.swap)


def sent_as(judge: JudgeSpec) -> str:
    """What the engine gets of each prompt: "ids" (an engine that runs the model, and an API's completions
    with a local tokenizer: the very ids counted here), "text" (completions without one: the server
    tokenizes) or "chat" (an API's chat completions: messages; a raw prompt is one user message)."""
    if judge.endpoint is None:
        return "ids"
    if judge.endpoint.api == "chat":
        return "chat"
    return "ids" if judge.model else "text"


def prepare_rows(batch: pa.Table, judge: JudgeSpec, first_seen: dict[str, tuple[str, int]]) -> pa.Table:
    """Canonical rows -> rows with either a quarantine reason or the requests the engine will get.

    `first_seen` maps each duplicated id to the (source, row) of its first occurrence; every later
    occurrence is quarantined. `judge.guard` flags (or quarantines) rows whose text could forge the
    prompt. Prompts are tokenized here, all of a batch in one call, and the engine gets the token
    ids (`sent_as`); prompts longer than the model can take with `max_tokens` of room are quarantined
    here rather than failing inside the engine. An API judge without a local tokenizer (`judge.model`
    unset) gets the prompts as text, and the server makes those checks.
    """
    tokens, model_max_len = load_tokenizer(judge.model) if judge.model else (None, None)
    special = tokens.special_tokens if tokens else ()
    max_len = judge.max_model_len or model_max_len
    out, requests = [], []
    for row in batch.to_pylist():
        prepared = {k: v for k, v in row.items() if k != "error"}
        prepared.update(quarantine_reason=quarantine_reason(row, judge, first_seen, special),
                        use_reference=None, requests=None, injection_flags=None)
        pictures = _row_images(prepared, judge) if prepared["quarantine_reason"] is None else None
        if prepared["quarantine_reason"] is None:
            prepared.update(use_reference=modes.use_reference(row, judge.reference), requests=row_requests(row, judge),
                            injection_flags=injection_flags(row, judge, special))
            for request in prepared["requests"]:
                request["images"] = pictures
            requests.extend(prepared["requests"])
        out.append(prepared)
    if tokens is not None and requests:
        for request, ids in zip(requests, tokens.encode_prompts([r["prompt"] for r in requests])):
            if request["images"]:
                ids = tokens.with_images(ids, len(request["images"]), image_placeholder(judge.model))
            request.update(prompt_token_ids=ids, prompt_tokens=len(ids))
    form = sent_as(judge)
    for request in requests:
        prompt = request["prompt"]
        if form == "chat":
            request.update(prompt_token_ids=None,
                           messages=prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}])
        elif form == "text":
            request["prompt_text"] = prompt
    for prepared in out:
        if prepared["requests"] is None or tokens is None:
            continue
        longest = max(r["prompt_tokens"] for r in prepared["requests"])
        if max_len and longest + judge.sampling.max_tokens > max_len:
            prepared.update(requests=None, quarantine_reason=(
                f"{prepared['source']} row {prepared['row']}: field 'answers': prompt is {longest} tokens; with "
                f"judge.sampling.max_tokens={judge.sampling.max_tokens} it exceeds the model's context of "
                f"{max_len} tokens (raise judge.max_model_len if the model allows, or lower max_tokens)"
            ))
    return pa.Table.from_pylist(out, schema=PREPARED_SCHEMA)


def _row_images(row: dict, judge: JudgeSpec) -> list[bytes] | None:
    """A valid row's images, loaded and checked; a missing or broken image, or a text-only judge, sets the
    row's quarantine reason instead."""
    if not row["images"]:
        return None
    where = common.where(row)
    model = judge.model
    if judge.endpoint is not None:
        row["quarantine_reason"] = (f"{where}: field 'images': the row has images, and engine openai does not send "
                                    "images; judge it with a vision-language model on engine vllm or hf")
        return None
    if image_placeholder(model) is None:
        row["quarantine_reason"] = (f"{where}: field 'images': the row has images but judge.model {model} is a "
                                    "text-only model; judge it with a vision-language model")
        return None
    try:
        return images.load_images(row["images"], base=storage.parent(row["source"]))
    except images.ImageError as error:
        row["quarantine_reason"] = f"{where}: {error}"
        return None


@functools.lru_cache(maxsize=4)
def image_placeholder(model: str) -> int | None:
    """The judge model's image token id, or None for a text-only model."""
    found = tokenizer.image_token(ensure_local_model(model))
    return found[1] if found else None


def quarantine_unanswered(batch: pa.Table) -> pa.Table:
    """Rows with a request the engine could not answer (it refused the prompt; an API request failed after
    its retries) get that as their quarantine reason: a row is judged in all its orders or not at all."""
    rows = batch.to_pylist()
    for row in rows:
        failed = [f"{request['order']}: {request['engine_error']}" for request in row["requests"] or []
                  if request.get("engine_error")]
        if failed:
            row["quarantine_reason"] = f"{common.where(row)}: the judge could not answer: {'; '.join(failed)}"
    return pa.Table.from_pylist(rows, schema=batch.schema)


def quarantine_rows(batch: pa.Table) -> pa.Table:
    """Prepared rows that were quarantined, as the quarantine file keeps them: row, place, reason."""
    rows = [
        {"id": r["id"], "source": r["source"], "row": r["row"], "reason": r["quarantine_reason"], "raw": r["raw"]}
        for r in batch.select(["id", "source", "row", "quarantine_reason", "raw"]).to_pylist()
    ]
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def parse_judgments(batch: pa.Table, judge: JudgeSpec) -> pa.Table:
    """Engine output -> scores and verdicts per order, merged into one judgment per input row.

    The per-order columns users read (`judge_text_forward`, `prompt_tokens_swapped`, ...) are
    named by the order of the request they come from.
    """
    family = families.get(judge.template)
    out = []
    for row in batch.to_pylist():
        by_order = {request["order"]: request for request in row["requests"]}
        judgment = {name: row.get(name) for name in JUDGMENT_SCHEMA.names}
        for order, request in by_order.items():
            judgment.update({
                f"judge_text_{order}": request["text"],
                f"prompt_tokens_{order}": request["prompt_tokens"],
                f"completion_tokens_{order}": request["completion_tokens"],
            })
        texts = {order: request["text"] or "" for order, request in by_order.items()}
        merged = modes.read(texts, judge.mode, family, len(row["answers"]), judge.parse)
        judgment.update(merged)
        if judge.logprobs:
            tokens = {order: _token_logprobs(request.get("logprobs")) for order, request in by_order.items()}
            judgment.update(score_signal.row_signal(tokens, merged, len(row["answers"])))
        judgment.update(mode=judge.mode, template=judge.template, used_reference=row["use_reference"],
                        model=judge.model_name, engine=judge.engine, rubric=with_rubric(row, judge).get("rubric"))
        out.append(judgment)
    return pa.Table.from_pylist(out, schema=JUDGMENT_SCHEMA)


def _token_logprobs(rows: list[dict] | None) -> list[TokenLogprobs] | None:
    """The REQUEST schema's logprobs as the engine gave them."""
    if rows is None:
        return None
    return [TokenLogprobs(token=t["token"], top={c["token"]: c["logprob"] for c in t["top"]}) for t in rows]


STATS_COLUMNS = ("parse_error", "consistent", "prompt_tokens_forward", "prompt_tokens_swapped",
                 "completion_tokens_forward", "completion_tokens_swapped", "injection_flags")


JUDGMENT_STAT_KEYS = ("judged", "parse_failures", "both_orders", "consistent", "prompt_tokens", "completion_tokens",
                      "injection_flagged")


def judgment_stats(batch: pa.Table) -> pa.Table:
    """Partial sums over one batch of judgments; the driver adds the partials up."""
    rows = batch.select(list(STATS_COLUMNS)).to_pylist()
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
                # Judged rows whose text holds a template delimiter or special token (judge.guard: flag).
                "injection_flagged": sum(bool(r["injection_flags"]) for r in rows),
            }
        ]
    )

