"""A real Ray head for tests: `ray start --head --block` as a child process, ended by its PID.

Loopback only, free ports, its own temp dir, and Ray 2.60 token authentication switched on
(RAY_AUTH_MODE=token with a token made for the test) so clients are tested the way they must
connect to a real cluster. Never `ray stop`: that would end every Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from support.s3_server import free_port


@dataclass
class RayHead:
    address: str  # the Jobs API (dashboard) address
    env: dict[str, str]  # what a client needs in its environment: auth mode and token
    process: subprocess.Popen
    temp_dir: str
    gcs_address: str  # what `ray start --address` and `ray.init(address=...)` join

    def stop(self) -> None:
        # SIGTERM to `ray start --block` makes it end the head's own processes (GCS, raylet, ...).
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def start_ray_head(extra_env: dict[str, str] | None = None, num_cpus: int = 2) -> RayHead:
    ray_bin = str(Path(sys.executable).parent / "ray")
    # Short path: Ray's unix sockets live under the temp dir and paths are limited to ~107 chars.
    temp_dir = tempfile.mkdtemp(prefix="rh-", dir="/tmp")
    dashboard_port = free_port()
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {**os.environ, **(extra_env or {}), **auth}
    env.pop("RAY_ADDRESS", None)
    # The job's entrypoint runs `python`: make it this interpreter, as a cluster image would.
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    gcs_port = free_port()
    args = [
        ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs_port}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}", f"--num-cpus={num_cpus}",
        "--num-gpus=0", f"--temp-dir={temp_dir}", f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
    ]
    log = open(Path(temp_dir) / "head.log", "wb")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    head = RayHead(f"http://127.0.0.1:{dashboard_port}", auth, process, temp_dir, f"127.0.0.1:{gcs_port}")
    _wait_for_jobs_api(head)
    return head


def _wait_for_jobs_api(head: RayHead, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"{head.address}/api/jobs/", headers={"Authorization": f"Bearer {head.env['RAY_AUTH_TOKEN']}"}
    )
    while True:
        if head.process.poll() is not None:
            raise RuntimeError(f"ray head exited: {(Path(head.temp_dir) / 'head.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            head.stop()
            raise RuntimeError(f"Jobs API not up in {timeout}s")
        time.sleep(1)


def start_worker_node(head: RayHead, num_cpus: int = 1) -> subprocess.Popen:
    """A second node joined to the head (`ray start --address --block`), in its own process group
    so a test can kill it whole, as a preempted spot node goes."""
    ray_bin = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, **head.env}
    env.pop("RAY_ADDRESS", None)
    args = [ray_bin, "start", "--block", f"--address={head.gcs_address}", "--node-ip-address=127.0.0.1",
            f"--temp-dir={head.temp_dir}",
            f"--num-cpus={num_cpus}", "--num-gpus=0", f"--metrics-export-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}"]
    log = open(Path(head.temp_dir) / "worker-node.log", "ab")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
