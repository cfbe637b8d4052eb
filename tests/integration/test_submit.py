"""Submitting judge jobs to a real Ray head (started here, token auth on) through the Jobs API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support.ray_head import start_ray_head

pytestmark = pytest.mark.integration

from support import REPO


@pytest.fixture(scope="module")
def head():
    head = start_ray_head()
    yield head
    head.stop()


def cli(head, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(head.env)
    return subprocess.run(
        [sys.executable, "-m", "judgelm_ray.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def write_spec(tmp_path: Path, model: str, name: str) -> Path:
    spec = {
        "name": name,
        "input": {"path": str(REPO / "jobs" / "data" / "smoke.jsonl")},
        "judge": {"model": model, "swap": True, "fast": True, "sampling": {"max_tokens": 8},
                  "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1}},
        "output": str(tmp_path / "{name}"),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_submit_wait_follows_the_job_to_success_and_writes_its_output(head, tiny_model, tmp_path):
    result = cli(head, "submit", str(write_spec(tmp_path, tiny_model, "submitted")), "--address", head.address, "--wait")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    job_id = result.stdout.splitlines()[0].strip()
    assert f"job {job_id}: SUCCEEDED" in result.stdout
    assert "rows read                    27" in result.stdout  # the job's own summary, streamed back
    manifest = json.loads((tmp_path / "submitted" / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["counts"]["judged"] == 25

    assert cli(head, "status", job_id, "--address", head.address).stdout.strip() == "SUCCEEDED"
    assert "quarantined" in cli(head, "logs", job_id, "--address", head.address).stdout
    listing = cli(head, "list", "--address", head.address).stdout
    assert job_id in listing and "submitted" in listing


def test_a_second_job_can_be_stopped(head, tiny_model, tmp_path):
    submitted = cli(head, "submit", str(write_spec(tmp_path, tiny_model, "to-stop")), "--address", head.address)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted.stdout.strip()
    stopped = cli(head, "stop", job_id, "--address", head.address)
    assert stopped.returncode == 0 and job_id in stopped.stdout
    deadline = time.monotonic() + 120
    while (status := cli(head, "status", job_id, "--address", head.address).stdout.strip()) not in ("STOPPED", "FAILED", "SUCCEEDED"):
        assert time.monotonic() < deadline, f"job still {status}"
        time.sleep(2)
    assert status == "STOPPED"
    assert not (tmp_path / "to-stop" / "manifest.json").exists() or json.loads(
        (tmp_path / "to-stop" / "manifest.json").read_text()
    )["status"] != "succeeded"


def test_clients_without_the_clusters_token_are_refused(head):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH") and k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, "-m", "judgelm_ray.cli", "list", "--address", head.address],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "token" in (result.stdout + result.stderr).lower()


def test_submit_rejects_an_invalid_spec_before_contacting_the_cluster(head, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "input": {"path": "a"}, "judge": {"model": "m", "swapp": True}}))
    result = cli(head, "submit", str(bad), "--address", head.address)
    assert result.returncode == 2 and "judge.swapp" in result.stderr
    assert "x" not in cli(head, "list", "--address", head.address).stdout.split()
