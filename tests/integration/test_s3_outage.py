"""An S3 outage in the middle of a run: the run waits it out, says so on the terminal, and succeeds.

The outage is caused for real: the SeaweedFS server is frozen (SIGSTOP) while the run judges and
writes its results, so every request to it hangs, as with an endpoint that stops answering.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from judgelm_ray import storage
from judgelm_ray.judge import resume
from support import REPO
from support.s3_server import start_s3_server

pytestmark = pytest.mark.integration

# What the run prints while a write of its results hangs.
NOTICE = re.compile(r"^! \d\d:\d\d:\d\d s3:// not answering \(.+\)")


def test_a_run_survives_an_s3_outage_and_shows_it(tmp_path, tiny_model, monkeypatch):
    server = start_s3_server(tmp_path / "s3", ["judgelm"])
    try:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump({
            "name": "outage",
            "input": {"path": str(REPO / "jobs" / "data" / "smoke.jsonl")},
            "judge": {"model": tiny_model, "engine": "fixed-latency", "engine_settings": {"engine_kwargs": {"latency_ms": 50}},
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
        # The outage lasts until the run says the store does not answer (a write hangs 10 s first).
        lines = queue.Queue()
        threading.Thread(target=lambda: [*map(lines.put, run.stdout), lines.put(None)], daemon=True).start()
        shown = []
        while not any(NOTICE.match(line) for line in shown):
            line = lines.get(timeout=300)
            assert line is not None, "".join(shown) + run.stderr.read()  # the run ended without saying it
            shown.append(line)
        os.kill(server.process.pid, signal.SIGCONT)
        while (line := lines.get(timeout=600)) is not None:
            shown.append(line)
        run.wait(timeout=60)
        out, err = "".join(shown), run.stderr.read()
        log = re.search(r"^log: (s3://judgelm/runs/outage/logs/run-\S+\.log)$", out, re.M)
        log_uploaded = bool(log) and storage.exists(log.group(1))  # when the run ended
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
    assert run.returncode == 0, err[-3000:] + out[-3000:]
    assert "rows read                    27" in out and "quarantined                  2" in out
    assert re.search(r"^judge outage: 27/27 rows .*\(\d+:\d\d\)$", out, re.M), out  # the last progress line
    assert log_uploaded, out
