"""Training data: teacher records -> examples -> per-epoch samples -> token ids with masked labels.

Every worker reads the same files and derives the same epoch plans (a permutation fixed by
(seed, epoch)), then tokenises only its own share of each step, when the step runs. Nothing but
(seed, epoch, step) is needed to resume mid-epoch.

Over-long policy: an example is dropped (and counted) before training when any sample `draw` can
make of it is longer than `max_length` tokens. Truncation is never used: cutting the prompt
would hide part of an answer the judgment talks about, and cutting the judgment (JudgeLM's
tokenizer truncation) would teach the judge to stop mid-sentence or without an end-of-sequence
token. Dropping per example, not per drawn sample, keeps the steps per epoch fixed, which the
learning-rate schedule and resumption need.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from judgelm_ray import inputs
from judgelm_ray.spec import AugmentSpec, TrainDataSpec
from judgelm_ray.train import augment

_ROW_PREFIX = re.compile(r"^.* row \d+: ")
IGNORE_INDEX = -100  # labels with this value do not count in the loss (torch cross-entropy's default)


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


def read_rows(data: TrainDataSpec) -> list[dict]:
    """Canonical rows of every input file, through the same adapters as judging (local or s3://)."""
    return list(inputs.read_rows(data.path, data.format))


def encode(sample: augment.JudgeSample, tokenizer) -> Encoded:
    """Token ids of prompt + judgment + EOS; labels are IGNORE_INDEX everywhere but the judgment and EOS.

    The prompt is tokenised on its own, exactly as a judge engine tokenises it, and the judgment
    as its continuation in the full text, so the model learns the tokens it must generate after
    the prompt it will see.
    """
    prompt_ids = tokenizer(sample.prompt)["input_ids"]
    full_ids = tokenizer(sample.prompt + sample.target)["input_ids"]
    if full_ids[: len(prompt_ids)] != prompt_ids:
        # A token spanning the end of the prompt: the judgment's tokens would not start where
        # generation starts. (Not the case for JudgeLM's "### Response:" and a digit.)
        raise ValueError(f"{sample.id}: prompt and judgment merge into one token at their boundary")
    target_ids = full_ids[len(prompt_ids) :] + [tokenizer.eos_token_id]
    return Encoded(prompt_ids + target_ids, [IGNORE_INDEX] * len(prompt_ids) + target_ids)


def load_examples(
    data: TrainDataSpec, aug: AugmentSpec, tokenizer, max_length: int
) -> tuple[list[augment.TeacherExample], Counter]:
    """Usable examples in file order, and the count of dropped rows per reason."""
    examples: list[augment.TeacherExample] = []
    dropped: Counter = Counter()
    for row in read_rows(data):
        example, reason = augment.example_from_row(row, data.format, aug)
        if example is None:
            dropped[_reason_kind(reason)] += 1
            continue
        try:
            longest = max(len(encode(sample, tokenizer).input_ids) for sample in augment.variants(example, aug))
        except ValueError:
            dropped["token boundary"] += 1
            continue
        if longest > max_length:
            dropped["too long"] += 1
            continue
        examples.append(example)
    return examples, dropped


def _reason_kind(reason: str) -> str:
    """Drop the "<file> row <n>: " prefix of adapter errors so equal problems count together."""
    return _ROW_PREFIX.sub("", reason, count=1)


def epoch_order(n_examples: int, seed: int, epoch: int) -> np.ndarray:
    """The order examples are visited in `epoch`: same on every worker, fresh each epoch."""
    return np.random.default_rng([seed, epoch]).permutation(n_examples)


def worker_share(order: np.ndarray, step: int, global_batch: int, rank: int, world: int) -> np.ndarray:
    """Example indices worker `rank` trains on in `step` of the epoch (a contiguous slice of the step's batch)."""
    per_worker = global_batch // world
    start = step * global_batch + rank * per_worker
    return order[start : start + per_worker]


def micro_batches(encoded: list[Encoded], micro_batch: int) -> list[list[Encoded]]:
    """Split a worker's share into micro-batches of similar lengths (less padding, same gradient)."""
    by_length = sorted(encoded, key=lambda e: len(e.input_ids))
    return [by_length[i : i + micro_batch] for i in range(0, len(by_length), micro_batch)]


def collate(batch: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sample; padding is masked out of attention and loss."""
    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        input_ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        attention_mask[i, : len(e.input_ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
