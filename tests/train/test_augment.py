"""Swap augmentation, reference support and drop: exact rewrites, purity, and the drawn ratios."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from judgelm_ray.inputs import adapt_records
from judgelm_ray.judge import stages
from judgelm_ray.spec import AugmentSpec, JudgeSpec
from judgelm_ray.train import augment

# A JudgeLM-100K record as GPT-4 judged it (shape and wording of the real data).
RECORD = {
    "question_id": 17,
    "question_body": "Give three tips for staying healthy.",
    "answer1_body": "Eat a balanced diet, exercise regularly, and get enough sleep.",
    "answer2_body": "Drink coffee.",
    "answer1_model_id": "vicuna-13b",
    "answer2_model_id": "alpaca-7b",
    "answer1_id": "a17-1",
    "answer2_id": "a17-2",
    "answer1_metadata": {"decoding_method": "top_p_sampling"},
    "answer2_metadata": {"decoding_method": "greedy"},
    "reference": {"text": "Eat well, move every day and sleep enough."},
    "score": [9.0, 3.0],
    "text": (
        "9 3\nAssistant 1 provided three relevant and accurate tips, covering diet, exercise and sleep. "
        "Assistant 2's answer is not helpful: it gives one tip, and not a healthy one. Therefore, "
        "Assistant 1 receives a 9 and Assistant 2 receives a 3."
    ),
    "score_w_reference": [10.0, 2.0],
    "text_w_reference": (
        "10 2\nAssistant 1's answer matches the reference answer closely.\n\n"
        "Assistant 2 did not follow the instructions; assistant 1 did."
    ),
}


def row_of(record: dict) -> dict:
    [row] = adapt_records(json.dumps(record).encode(), "train.jsonl", "judgelm")
    return row


def example_of(record: dict = RECORD, aug: AugmentSpec = AugmentSpec()) -> augment.TeacherExample:
    example, reason = augment.example_from_row(row_of(record), "judgelm", aug)
    assert reason is None
    return example


@pytest.mark.parametrize(
    "text, expected",
    [
        (RECORD["text"], (
            "3 9\nAssistant 2 provided three relevant and accurate tips, covering diet, exercise and sleep. "
            "Assistant 1's answer is not helpful: it gives one tip, and not a healthy one. Therefore, "
            "Assistant 2 receives a 9 and Assistant 1 receives a 3."
        )),
        (RECORD["text_w_reference"], (
            "2 10\nAssistant 2's answer matches the reference answer closely.\n\n"
            "Assistant 1 did not follow the instructions; assistant 2 did."
        )),
        ("8.5 7\nBoth are fine.", "7 8.5\nBoth are fine."),
        ("8,7\nAssistant 1 wins.", "7,8\nAssistant 2 wins."),
        ("6 6", "6 6"),
        # "Assistant 10" and "Assistant 12" name other answers; only 1 and 2 trade places.
        ("7 4\nAssistant 10 and Assistant 12 differ from Assistant 1.", "4 7\nAssistant 10 and Assistant 12 differ from Assistant 2."),
    ],
)
def test_swap_judgment_is_exact(text, expected):
    assert augment.swap_judgment(text) == expected
    assert augment.swap_judgment(expected) == text  # an involution


def test_swap_exchanges_answers_and_their_metadata():
    example = example_of()
    swapped = augment.swap(example)
    assert swapped.answers == (RECORD["answer2_body"], RECORD["answer1_body"])
    assert swapped.answer_meta[0] == {
        "model_id": "alpaca-7b", "id": "a17-2", "metadata": {"decoding_method": "greedy"}
    }
    assert swapped.answer_meta[1]["model_id"] == "vicuna-13b"
    assert swapped.judgment.startswith("3 9\n") and swapped.judgment_w_reference.startswith("2 10\n")
    assert augment.swap(swapped) == example


def test_draw_is_pure_and_prompt_matches_judging():
    example = example_of()
    judge = {ref: JudgeSpec(model="m", reference=ref, swap=True) for ref in ("always", "never")}
    row = row_of(RECORD)
    for epoch in range(40):
        sample = augment.draw(example, AugmentSpec(seed=3), epoch)
        assert sample == augment.draw(example, AugmentSpec(seed=3), epoch)  # same inputs, same sample
        forward, swapped = (r["prompt"] for r in stages.row_requests(row, judge["always" if sample.with_reference else "never"]))
        # Byte-identical to the prompt a judge job sends for that order and reference choice.
        assert sample.prompt == (swapped if sample.swapped else forward)
        teacher = RECORD["text_w_reference"] if sample.with_reference else RECORD["text"]
        assert sample.target == (augment.swap_judgment(teacher) if sample.swapped else teacher)
    assert example == example_of()  # drawing never changes the example


def _draws(n: int, aug: AugmentSpec, epoch: int) -> list[augment.JudgeSample]:
    base = example_of()
    return [augment.draw(replace(base, id=f"row-{i}"), aug, epoch) for i in range(n)]


@pytest.mark.parametrize("swap_ratio, reference_ratio", [(0.5, 0.5), (0.2, 0.9), (0.0, 1.0)])
def test_drawn_ratios_match_spec(swap_ratio, reference_ratio):
    n = 4000
    aug = AugmentSpec(swap_ratio=swap_ratio, reference_ratio=reference_ratio, seed=1)
    samples = _draws(n, aug, epoch=0)

    def close(count: int, p: float) -> bool:  # within 4 standard deviations
        return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1e-9

    swapped = sum(s.swapped for s in samples)
    with_reference = sum(s.with_reference for s in samples)
    both = sum(s.swapped and s.with_reference for s in samples)
    assert close(swapped, swap_ratio) and close(with_reference, reference_ratio)
    assert close(both, swap_ratio * reference_ratio)  # the two choices are independent


def test_each_epoch_draws_afresh():
    aug = AugmentSpec(swap_ratio=0.5, reference_ratio=0.5, seed=0)
    first, second = _draws(2000, aug, 0), _draws(2000, aug, 1)
    # Independent epochs: about a quarter of the rows are swapped in both (not half, as when
    # choices leak across epochs, nor none).
    both = sum(a.swapped and b.swapped for a, b in zip(first, second))
    assert 400 < both < 600
    assert first != _draws(2000, aug.model_copy(update={"seed": 1}), 0)  # the seed matters too


@pytest.mark.parametrize(
    "change, aug, reason",
    [
        ({"text": "error", "score": [-1, -1]}, AugmentSpec(), "field 'text'"),
        ({"text": "Assistant 1 is better."}, AugmentSpec(), "field 'text'"),
        ({"text_w_reference": "error"}, AugmentSpec(), "field 'text_w_reference'"),
        ({"text_w_reference": "error"}, AugmentSpec(reference_ratio=0.0), None),  # never drawn
        ({"text": "error"}, AugmentSpec(reference_ratio=1.0), None),
        ({"answer3_body": "A third answer.", "score": [9, 3, 1], "score_w_reference": [9, 3, 1]}, AugmentSpec(),
         "exactly 2 answers"),
        ({"question_body": 5}, AugmentSpec(), "field 'question_body'"),
    ],
)
def test_unusable_teacher_judgments_are_dropped(change, aug, reason):
    example, why = augment.example_from_row(row_of({**RECORD, **change}), "judgelm", aug)
    if reason is None:
        assert why is None and example is not None
    else:
        assert example is None and reason in why


def test_rows_without_reference_train_on_the_plain_judgment():
    record = {k: v for k, v in RECORD.items() if k not in ("reference", "text_w_reference", "score_w_reference")}
    example = example_of(record)
    assert example.reference is None and example.judgment_w_reference is None
    samples = [augment.draw(replace(example, id=str(i)), AugmentSpec(), 0) for i in range(50)]
    assert not any(s.with_reference for s in samples)
    assert all("[Reference Answer]" not in s.prompt for s in samples)


def test_canonical_rows_carry_judgments():
    row = {"id": "c1", "question": "Q?", "answers": ["a", "b"], "reference": "r",
           "judgment": "8 2\nAssistant 1 is right.", "judgment_w_reference": "9 1\nAssistant 1 matches."}
    [canonical] = adapt_records(json.dumps(row).encode(), "x.jsonl", "canonical")
    example, why = augment.example_from_row(canonical, "canonical", AugmentSpec())
    assert why is None
    assert example.judgment == row["judgment"] and example.judgment_w_reference == row["judgment_w_reference"]


@pytest.mark.parametrize(
    "aug, expected",
    [
        (AugmentSpec(), {(False, False), (False, True), (True, False), (True, True)}),
        (AugmentSpec(swap_ratio=0.0, reference_ratio=0.0), {(False, False)}),
        (AugmentSpec(swap_ratio=1.0, reference_ratio=1.0), {(True, True)}),
    ],
)
def test_variants_are_what_draw_can_make(aug, expected):
    example = example_of()
    variants = augment.variants(example, aug)
    assert {(v.swapped, v.with_reference) for v in variants} == expected
    drawn = {augment.draw(replace(example, id=str(i)), aug, 0) for i in range(64)}
    assert {replace(d, id=example.id) for d in drawn} <= set(variants)
