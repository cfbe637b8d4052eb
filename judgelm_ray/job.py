"""A job spec's sections run in order (train, then judge, then evaluate), each writing its manifest."""

from __future__ import annotations

from judgelm_ray.spec import JobSpec


def run_job(spec: JobSpec) -> list[tuple[str, dict, str]]:
    """Run every section the spec has; returns (section, manifest, printable summary) per section.

    Stops at the first section that does not succeed: later sections depend on its output.
    """
    from judgelm_ray.judge import format_summary, run_judge

    results = []
    manifest = run_judge(spec)
    results.append(("judge", manifest, format_summary(manifest)))
    return results
