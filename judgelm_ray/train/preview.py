"""`judgelm-ray render` for a train section: the generated DeepSpeed config and training samples."""

from __future__ import annotations

import json

from judgelm_ray.spec import JobSpec
from judgelm_ray.train import augment
from judgelm_ray.train.data import read_rows
from judgelm_ray.train.deepspeed import deepspeed_config


def render_training(spec: JobSpec, limit: int) -> str:
    """The generated DeepSpeed config and the first `limit` usable training samples of epoch 1.

    Each sample shows the prompt (masked out of the loss), then the target the loss covers (the
    teacher judgment; the end-of-sequence token follows it). Schedule lengths depend on the number
    of usable examples and read "auto" here; the run writes the filled-in config beside its model.
    """
    train = spec.train
    parts = ["===== DeepSpeed config =====", json.dumps(deepspeed_config(train), indent=2)]
    for row in read_rows(train.data):
        if limit <= 0:
            break
        example, _ = augment.example_from_row(row, train.data.format, train.augment)
        if example is None:
            continue
        sample = augment.draw(example, train.augment, epoch=0)
        how = f"{'swapped' if sample.swapped else 'forward'}, {'with' if sample.with_reference else 'without'} reference"
        parts += [f"===== training sample {sample.id} ({how}) =====", sample.prompt, "----- target -----", sample.target]
        limit -= 1
    return "\n".join(parts)
