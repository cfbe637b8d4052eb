"""Submitting judge jobs to a real Ray head (started here, token auth on) through the Jobs API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support.ray_head import start_ray_head

pytestmark = pytest.mark.integration

from support import REPO

# ---------------------------------------------------------------- the README's walkthrough, as a user types it

WALKTHROUGH = "To try it against a Ray head on this machine"
RAY_DEFAULT_PORTS = (6379, 8265, 10001)  # GCS, dashboard (Jobs API), Ray client: the walkthrough's head takes them


def readme_walkthrough() -> str:
    """The first bash block after the walkthrough's opening sentence in README.md, unchanged."""
    section = (REPO / "README.md").read_text().split(WALKTHROUGH, 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def path_without_the_venv() -> str:
    venv_bin = Path(sys.executable).parent.resolve()
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p).resolve() != venv_bin)


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def session_alive(process: subprocess.Popen, wait: float = 0) -> bool:
    """Whether anything still runs in the block's session (its own process group), after up to `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(1)


def end_session(process: subprocess.Popen) -> None:
    """End whatever the block left running (a head, if the block stopped before its last line)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not session_alive(process):
            return
        os.killpg(process.pid, sig)
        session_alive(process, wait=40)  # `ray start --block` drains for up to 30 s on SIGTERM


def test_the_readme_walkthrough_runs_as_written_in_a_shell_without_the_venv(tmp_path):
    if busy := [p for p in RAY_DEFAULT_PORTS if port_in_use(p)]:
        pytest.skip(f"port(s) {busy} in use here; the README's head takes Ray's default ports")
    clone = tmp_path / "clone"  # what the block touches of a clean clone, so runs/ of this checkout stays as it is
    shutil.copytree(REPO / "jobs", clone / "jobs")
    (clone / ".venv").symlink_to(REPO / ".venv")
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {"PATH": path_without_the_venv(), "HOME": os.environ["HOME"], "LANG": "C.UTF-8", "TMPDIR": str(tmpdir)}
    # The trap tells the test which temp dir the head took, to remove it afterwards.
    script = f"trap 'echo \"$RAY_TMP\" > {tmp_path}/ray_tmp' EXIT\n{readme_walkthrough()}"
    block = subprocess.Popen(["bash", "-c", script], cwd=clone, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = block.communicate(timeout=900)
        head_left_running = session_alive(block, wait=30)
    finally:
        block.kill()
        end_session(block)
        ray_tmp = (tmp_path / "ray_tmp").read_text().strip() if (tmp_path / "ray_tmp").exists() else ""
        if ray_tmp.startswith("/tmp/ray-"):
            shutil.rmtree(ray_tmp, ignore_errors=True)
    assert "ModuleNotFoundError" not in output, output[-6000:]  # the driver ran a Python without the venv
    assert ": SUCCEEDED" in output, output[-6000:]
    assert "rows read                    27" in output  # the job's own summary, streamed back by --wait
    manifest = json.loads((clone / "runs" / "submitted" / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["counts"]["read"] == 27
    assert not head_left_running, "the walkthrough's last line did not end the head it started"
    assert not list(tmpdir.glob("judgelm-ray-submit-*"))


# ---------------------------------------------------------------- submitting to a head started by the test

@pytest.fixture(scope="module")
def head():
    head = start_ray_head()
    yield head
    head.stop()


def cli(head, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it against the head; `env` adds to (or overrides) the head's auth variables."""
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, **head.env, **(env or {})}
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


def test_a_job_can_be_stopped_and_is_listed(head, tiny_model, tmp_path):
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
    listing = cli(head, "list", "--address", head.address).stdout
    assert job_id in listing and "STOPPED" in listing and "to-stop" in listing
    assert cli(head, "logs", job_id, "--address", head.address).returncode == 0
    assert not (tmp_path / "to-stop" / "manifest.json").exists() or json.loads(
        (tmp_path / "to-stop" / "manifest.json").read_text()
    )["status"] != "succeeded"


def test_a_refused_submit_leaves_no_staging_folder_either(head, tiny_model, tmp_path):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    refused = cli(head, "submit", str(write_spec(tmp_path, tiny_model, "refused")), "--address", head.address,
                  env={"TMPDIR": str(tmpdir), "RAY_AUTH_TOKEN": "not-the-clusters-token"})
    assert refused.returncode != 0 and "token" in (refused.stdout + refused.stderr).lower()
    assert not list(tmpdir.glob("judgelm-ray-submit-*"))


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
