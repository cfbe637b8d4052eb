"""`judgelm-ray render`: the exact prompts a spec sends to the engine, built by the pipeline's own code."""

from __future__ import annotations

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
