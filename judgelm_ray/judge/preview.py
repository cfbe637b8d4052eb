"""`judgelm-ray render` for a judge section: the exact prompts a spec sends to the engine, built by
the pipeline's own stages."""

from __future__ import annotations

from collections.abc import Iterator

from judgelm_ray import inputs
from judgelm_ray.judge import stages
from judgelm_ray.spec import JobSpec


def render_prompts(spec: JobSpec, limit: int) -> Iterator[tuple[str, str, str]]:
    """(row id, order, prompt) for the first `limit` usable rows, reading files in pipeline order.

    Runs without Ray: it reads only as many files as it needs. Quarantined rows are skipped, and
    duplicate ids are checked only among the rows read here.
    """
    if limit <= 0:
        return
    seen: dict[str, tuple[str, int]] = {}
    rendered = 0
    source = spec.input
    for row in inputs.read_rows(source.path, source.format, source.fields, source.models, source.pair_draw):
        seen.setdefault(row["id"], (row["source"], row["row"]))
        if stages.quarantine_reason(row, spec.judge, seen) is not None:
            continue
        for request in stages.row_requests(row, spec.judge):
            yield row["id"], request["order"], printable(request["prompt"], row["images"])
        rendered += 1
        if rendered >= limit:
            return


def printable(prompt: str | list[dict], images: list[dict] | None = None) -> str:
    """A raw prompt as it is; chat messages one after another under their role (the engine gets them
    through the judge model's chat template). The row's images go before it, as the engine gets them."""
    shown = [f"<image: {image['path'] or str(len(image['bytes'])) + ' bytes'}>" for image in images or []]
    if isinstance(prompt, str):
        return "\n".join([*shown, prompt])
    return "\n".join([*shown, *(f"----- {m['role']} message -----\n{m['content']}" for m in prompt)])
