"""`judgelm-ray render`: the exact prompts a spec sends to the engine (and, for a train section, the
DeepSpeed config and training samples), built by the pipeline's own code."""

from __future__ import annotations

import json
from collections.abc import Iterator

from judgelm_ray import records, stages, storage
from judgelm_ray.spec import JobSpec


def render_prompts(spec: JobSpec, limit: int) -> Iterator[tuple[str, str, str]]:
    """(row id, order, prompt) for the first `limit` usable rows, reading files in pipeline order.

    Runs without Ray: it reads only as many files as it needs. Quarantined rows are skipped, and
    duplicate ids are checked only among the rows read here.
    """
    fs, files = storage.list_input_files(spec.input.path)
    root = storage.common_root(files)
    seen: dict[str, tuple[str, int]] = {}
    rendered = 0
    for path in files:
        with fs.open_input_file(path) as handle:
            data = handle.read()
        rows = records.adapt_records(data, path, spec.input.format, spec.input.fields or None, stages.id_prefix(path, root))
        for row in rows:
            if rendered >= limit:
                return
            seen.setdefault(row["id"], (row["source"], row["row"]))
            if stages.quarantine_reason(row, spec.judge, seen) is not None:
                continue
            forward, swapped = stages.row_prompts(row, spec.judge)
            yield row["id"], "forward", forward
            if swapped is not None:
                yield row["id"], "swapped", swapped
            rendered += 1


def render_training(spec: JobSpec, limit: int) -> str:
    """The generated DeepSpeed config and the first `limit` usable training samples of epoch 1.

    Each sample shows the prompt (masked out of the loss), then the target the loss covers (the
    teacher judgment; the end-of-sequence token follows it). Schedule lengths depend on the number
    of usable examples and read "auto" here; the run writes the filled-in config beside its model.
    """
    from judgelm_ray import augment
    from judgelm_ray.train.data import read_rows
    from judgelm_ray.train.deepspeed import deepspeed_config

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
