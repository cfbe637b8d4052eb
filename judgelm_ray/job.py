"""A job spec's sections run in order (train, then judge, then evaluate), each writing its manifest."""

from __future__ import annotations

from judgelm_ray.spec import JobSpec


def run_job(spec: JobSpec) -> list[tuple[str, dict, str]]:
    """Run every section the spec has; returns (section, manifest, printable summary) per section.

    Stops at the first section that does not succeed: later sections depend on its output.
    """
    results = []
    if spec.train is not None:
        from judgelm_ray.train.run import format_summary as train_summary, run_train

        trained = run_train(spec)
        results.append(("train", trained, train_summary(trained)))
    if spec.judge is None:
        return results

    from judgelm_ray.judge import format_summary, run_judge

    manifest = run_judge(spec)
    results.append(("judge", manifest, format_summary(manifest)))
    if spec.evaluate is not None and manifest["status"] == "succeeded":
        from judgelm_ray.evaluate import run_evaluation
        from judgelm_ray.report import format_table

        evaluation = run_evaluation(spec)
        results.append(("evaluate", evaluation, format_table(evaluation["metrics"])))
    return results
