"""A spec's sections run in order: teacher -> train -> judge -> evaluate, each writing its manifest.

The one place that runs more than one job: the jobs themselves never import each other.
"""

from __future__ import annotations

import logging

from judgelm_ray import console
from judgelm_ray.runs import check_output
from judgelm_ray.spec import JobSpec


def run_job(spec: JobSpec, restart: bool = False) -> list[tuple[str, dict, str]]:
    """Run every section the spec has; returns (section, manifest, printable summary) per section.
    A judge run continues an interrupted run on the same output unless `restart`.

    Stops at the first section that does not succeed: later sections depend on its output.
    """
    check_output(spec.output)
    results = []
    if spec.teacher is not None:
        taught = _teach(spec, restart)
        results.append(("teacher", taught, console.teacher_summary(taught)))
        if taught["status"] != "succeeded":
            return results
    if spec.train is not None:
        from judgelm_ray.train.run import run_train

        trained = run_train(spec)
        results.append(("train", trained, console.train_summary(trained)))
    if spec.judge is None:
        return results

    from judgelm_ray.judge import run_judge

    manifest = run_judge(spec, restart=restart)
    results.append(("judge", manifest, console.judge_summary(manifest)))
    if spec.evaluate is not None and manifest["status"] == "succeeded":
        from judgelm_ray.evaluate.run import run_evaluation

        evaluation = run_evaluation(spec)
        results.append(("evaluate", evaluation, console.evaluation_summary(evaluation["metrics"])))
    results.append(("inspect", *_inspect_page(spec.output)))
    return results


def _teach(spec: JobSpec, restart: bool) -> dict:
    """The teacher's judge passes (each resumes like any judge run), then its records."""
    from judgelm_ray.judge import run_judge
    from judgelm_ray.manifest import utc_now
    from judgelm_ray.teacher import run as teacher

    started, manifests = utc_now(), {}
    for name, job in teacher.passes(spec):
        if name == "reference" and not teacher.has_references(manifests["plain"]):
            console.say("teacher: no pair has a reference answer, so none is judged with one")
            continue
        console.say(f"teacher: judging the pairs {'with' if name == 'reference' else 'without'} the reference")
        manifests[name] = run_judge(job, restart=restart)
        if manifests[name]["status"] != "succeeded":
            return {**manifests[name], "counts": {}, "stats": {}}
    return teacher.write_records(spec, manifests, started)


def _inspect_page(output: str) -> tuple[dict, str]:
    """The page to look at the judgments. A run's results stand without it: a failure to draw it is
    a notice (traceback in the log), not a failed run."""
    from judgelm_ray.evaluate.inspect_page import write_inspect_page

    try:
        page = write_inspect_page(output)
    except Exception as error:
        logging.getLogger(__name__).exception("writing the inspect page failed")
        console.notice(f"the inspect page could not be written: {error}")
        return {"status": "failed", "error": str(error)}, "-"
    return {"status": "succeeded", "outputs": {"page": page}}, f"open {page} in a browser (judgelm-ray inspect {output})"
