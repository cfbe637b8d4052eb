"""JudgeLM's data techniques as pure functions: swap augmentation, reference support and drop.

A training example is a pairwise record with its teacher (GPT-4) judgments. `draw` turns it into
the sample one epoch trains on, and is a pure function of (example, seed, epoch): every epoch
draws fresh choices from the untouched example. (JudgeLM mutates its cached records in place, so a
swap drawn in epoch 1 is swapped back, or not, in epoch 2: its choices leak across epochs.)

- Swap (position bias): the answers and their metadata change places, and so does the judgment:
  the two scores on its first line, and "Assistant 1" / "Assistant 2" in the explanation.
- Reference support / drop (knowledge and format bias): with probability `reference_ratio` the
  sample shows the reference answer and learns the with-reference teacher judgment, otherwise the
  plain prompt and judgment.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

from judgelm_ray import verdicts
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.modes import pairwise
from judgelm_ray.spec import AugmentSpec

# Where each input format keeps the teacher judgments (its adapter puts them in `meta`).
JUDGMENT_KEYS = {
    "judgelm": ("text", "text_w_reference"),
    "canonical": ("judgment", "judgment_w_reference"),
}
# Per-answer metadata, e.g. JudgeLM's answer1_id / answer1_model_id / answer1_metadata.
_ANSWER_META = re.compile(r"answer([12])_(.+)")
# "Assistant 1" <-> "Assistant 2"; not "Assistant 10", which names another answer.
_ASSISTANT = re.compile(r"\b([Aa]ssistant) ([12])(?!\d)")
_SCORE_LINE = re.compile(r"([^ ,]+)([ ,])([^ ,]+)")


@dataclass(frozen=True)
class TeacherExample:
    id: str
    question: str
    answers: tuple[str, str]
    reference: str | None
    judgment: str | None  # teacher judgment without the reference; None when not usable
    judgment_w_reference: str | None  # None when the row has no usable one
    answer_meta: tuple[dict, dict]  # per-answer metadata, swapped with the answers


@dataclass(frozen=True)
class JudgeSample:
    id: str
    prompt: str  # exactly what a judge job sends the engine for this order and reference choice
    target: str  # the teacher judgment: "s1 s2" line, then the explanation
    swapped: bool
    with_reference: bool


def _usable(text) -> bool:
    # JudgeLM marks failed teacher calls with text "error"; a judgment whose score line does not
    # parse would teach the judge an unparseable format.
    if not isinstance(text, str) or text.strip() == "error":
        return False
    return verdicts.parse_judgment(text, 2, "judgelm").scores is not None


def example_from_row(row: dict, fmt: str, augment: AugmentSpec) -> tuple[TeacherExample | None, str | None]:
    """A canonical row -> (example, None), or (None, reason) when it cannot be trained on.

    A row is dropped when a teacher judgment it may draw is marked `error` or unparseable: the
    plain one unless `reference_ratio` is 1, and, when the row has a reference, the
    with-reference one unless `reference_ratio` is 0. Rows without a reference always train on
    the plain judgment.
    """
    if row.get("error"):
        return None, row["error"]
    if len(row["answers"]) != 2:
        return None, f"field 'answers': training needs exactly 2 answers, got {len(row['answers'])}"
    meta = json.loads(row["meta"]) if row.get("meta") else {}  # canonical rows store meta as JSON text
    plain_key, ref_key = JUDGMENT_KEYS[fmt]
    row_has_reference = has_reference(row)
    plain = meta.get(plain_key) if _usable(meta.get(plain_key)) else None
    with_ref = meta.get(ref_key) if row_has_reference and _usable(meta.get(ref_key)) else None
    if plain is None and (augment.reference_ratio < 1 or not row_has_reference):
        return None, f"field '{plain_key}': teacher judgment is missing, marked error or unparseable"
    if row_has_reference and with_ref is None and augment.reference_ratio > 0:
        return None, f"field '{ref_key}': teacher judgment is missing, marked error or unparseable"
    answer_meta: tuple[dict, dict] = ({}, {})
    for key, value in meta.items():
        if match := _ANSWER_META.fullmatch(key):
            answer_meta[int(match[1]) - 1][match[2]] = value
    example = TeacherExample(
        id=row["id"],
        question=row["question"],
        answers=(row["answers"][0], row["answers"][1]),
        reference=row["reference"] if row_has_reference else None,
        judgment=plain,
        judgment_w_reference=with_ref,
        answer_meta=answer_meta,
    )
    return example, None


def swap_judgment(text: str) -> str:
    """The judgment as the teacher would have written it for the answers in the other order."""
    first, newline, explanation = text.partition("\n")
    match = _SCORE_LINE.fullmatch(first)
    if match is None:  # example_from_row admits only judgments whose first line parses
        raise ValueError(f"not a two-score first line: {first!r}")
    score_1, sep, score_2 = match.groups()
    flipped = _ASSISTANT.sub(lambda m: f"{m[1]} {'2' if m[2] == '1' else '1'}", explanation)
    return f"{score_2}{sep}{score_1}{newline}{flipped}"


def swap(example: TeacherExample) -> TeacherExample:
    """The example with its answers (and everything tied to their order) exchanged."""
    return replace(
        example,
        answers=example.answers[::-1],
        answer_meta=example.answer_meta[::-1],
        judgment=swap_judgment(example.judgment) if example.judgment is not None else None,
        judgment_w_reference=(
            swap_judgment(example.judgment_w_reference) if example.judgment_w_reference is not None else None
        ),
    )


def _uniforms(seed: int, example_id: str, epoch: int) -> tuple[float, float]:
    """Two independent U[0, 1) draws fixed by (seed, id, epoch): no RNG state to carry or leak."""
    digest = hashlib.sha256(f"{seed}\x00{example_id}\x00{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big") / 2**64


def _sample(example: TeacherExample, swapped: bool, with_reference: bool) -> JudgeSample:
    if swapped:
        example = swap(example)
    target = example.judgment_w_reference if with_reference else example.judgment
    prompt = pairwise.prompt(example.question, list(example.answers), example.reference, with_reference)
    return JudgeSample(example.id, prompt, target, swapped, with_reference)


def draw(example: TeacherExample, augment: AugmentSpec, epoch: int) -> JudgeSample:
    """The sample `example` becomes in `epoch`."""
    u_swap, u_reference = _uniforms(augment.seed, example.id, epoch)
    # Reference support when the row has a usable with-reference judgment; reference drop otherwise.
    with_reference = example.judgment_w_reference is not None and (
        example.judgment is None or u_reference < augment.reference_ratio
    )
    return _sample(example, u_swap < augment.swap_ratio, with_reference)


def variants(example: TeacherExample, augment: AugmentSpec) -> list[JudgeSample]:
    """Every sample `draw` can make of `example` under `augment` (for length checks before training)."""
    orders = [swapped for swapped in (False, True) if (augment.swap_ratio > 0 if swapped else augment.swap_ratio < 1)]
    plain_possible = example.judgment is not None and (
        augment.reference_ratio < 1 or example.judgment_w_reference is None
    )
    reference_possible = example.judgment_w_reference is not None and (
        augment.reference_ratio > 0 or example.judgment is None
    )
    references = [False] * plain_possible + [True] * reference_possible
    return [_sample(example, swapped, with_reference) for swapped in orders for with_reference in references]
