"""Submitting job specs to a Ray cluster through the Ray Jobs API, and following them.

The spec is validated here, before anything is sent, and the resolved spec (overrides applied)
travels in the job's working_dir, so the cluster runs exactly what was validated. The
judgelm_ray package travels too (py_modules) unless the caller says the cluster has the right
version installed, so client and cluster never disagree about the code.

Ray 2.60 token authentication: set RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN,
RAY_AUTH_TOKEN_PATH, or the default token file) in the client's environment; the Jobs client reads
them from there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from judgelm_ray.spec import dump_yaml, fingerprint, load_spec

PACKAGE_DIR = Path(__file__).resolve().parent
SPEC_FILE = "spec.yaml"
NO_AGENT = "No available agent to submit job"  # Ray 2.60's job head, until the head node's agent registers
AGENT_WAIT_S = 120


def jobs_client(address: str | None):
    from ray.job_submission import JobSubmissionClient

    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise ValueError("no cluster address: pass --address http://HEAD:8265 or set RAY_ADDRESS")
    return JobSubmissionClient(address)


def submit_spec(spec_path: str, overrides: list[str], address: str | None, ship_package: bool = True) -> str:
    """Validate the spec locally, submit it, and return the job's submission id."""
    spec = load_spec(spec_path, overrides)
    staging = Path(tempfile.mkdtemp(prefix="judgelm-ray-submit-"))
    try:
        (staging / SPEC_FILE).write_text(dump_yaml(spec))
        runtime_env: dict = {"working_dir": str(staging)}
        if ship_package:
            runtime_env["py_modules"] = [str(PACKAGE_DIR)]
        client = jobs_client(address)
        return retry_until_agent_ready(lambda: client.submit_job(
            entrypoint=f"python -m judgelm_ray.cli run {SPEC_FILE}",
            runtime_env=runtime_env,
            metadata={"judgelm_ray_name": spec.name, "judgelm_ray_fingerprint": fingerprint(spec)},
        ))
    finally:
        # submit_job zips working_dir and PUTs it to the cluster before it sends the job (Ray 2.60's
        # JobSubmissionClient._upload_working_dir_if_needed), so the folder is not needed once it returns.
        shutil.rmtree(staging, ignore_errors=True)


def retry_until_agent_ready(submit: Callable[[], str], wait_s: float = AGENT_WAIT_S,
                            sleep: Callable[[float], object] = time.sleep) -> str:
    """`submit()`, retried while the head has no job agent yet.

    A head that has just started answers the Jobs API before its job agent has registered, and
    refuses submissions with "No available agent to submit job, please try again later" (it waits
    only 10 s itself; longer on a busy machine). Nothing is created by a refused submission, so
    trying again cannot start the job twice.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return submit()
        except RuntimeError as error:
            if NO_AGENT not in str(error) or time.monotonic() >= deadline:
                raise
        sleep(2)


def job_status(address: str | None, job_id: str) -> str:
    return str(jobs_client(address).get_job_status(job_id).value)


def job_logs(address: str | None, job_id: str) -> str:
    return jobs_client(address).get_job_logs(job_id)


def follow_logs(address: str | None, job_id: str, write: Callable[[str], object] = sys.stdout.write) -> str:
    """Stream a job's logs until it ends; returns its final status."""
    client = jobs_client(address)

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    asyncio.run(tail())
    return str(client.get_job_status(job_id).value)


def stop_job(address: str | None, job_id: str) -> bool:
    return jobs_client(address).stop_job(job_id)


def list_jobs(address: str | None) -> list[dict]:
    return [
        {"id": job.submission_id, "status": str(job.status.value), "entrypoint": job.entrypoint,
         "name": (job.metadata or {}).get("judgelm_ray_name")}
        for job in jobs_client(address).list_jobs()
    ]
