"""An S3 outage in the middle of a run: the run waits it out, says so on the terminal, and succeeds.

The outage is caused for real: the SeaweedFS server is frozen (SIGSTOP) while the run judges and
writes its results, so every request to it hangs, as with an endpoint that stops answering.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from judgelm_ray.judge import resume
from support import REPO
from support.s3_server import start_s3_server

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 25


def test_a_run_survives_an_s3_outage_and_shows_it(tmp_path, tiny_model, monkeypatch):
    server = start_s3_server(tmp_path / "s3", ["judgelm"])
    try:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump({
            "name": "outage",
            "input": {"path": str(REPO / "jobs" / "data" / "smoke.jsonl")},
            # ~8 s of judging (25 rows, 0.3 s each), all of it inside the outage
            "judge": {"model": tiny_model, "engine": "fixed-latency", "fixed_latency_ms": 300,
                      "pool": {"gpus_per_actor": 0, "batch_size": 4}},
            "output": "s3://judgelm/runs/outage",
        }))
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        run = subprocess.Popen([sys.executable, "-m", "judgelm_ray.cli", "run", str(spec)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # The outage starts once the run has committed its first file (the quarantined rows, before
        # judging), so the judgments are written while the store does not answer.
        deadline = time.monotonic() + 300
        while not resume.part_files("s3://judgelm/runs/outage/quarantine"):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.2)
        os.kill(server.process.pid, signal.SIGSTOP)
        time.sleep(OUTAGE_SECONDS)
        os.kill(server.process.pid, signal.SIGCONT)
        out, err = run.communicate(timeout=600)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
    assert run.returncode == 0, err[-3000:] + out[-3000:]
    assert re.search(r"^! \d\d:\d\d:\d\d s3:// not answering \(.+\)", out, re.M), out
    assert "rows read                    27" in out and "quarantined                  2" in out
