"""Interrupted judge runs continue where they stopped, every row judged exactly once, on a real Ray.

Faults are caused, not simulated: the driver of a running job (a child process, with the local Ray
it started) is killed with SIGKILL, and a judge actor's worker process is killed mid-run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import yaml

from judgelm_ray.judge import run_judge
from judgelm_ray.judge.resume import RunRefused
from judgelm_ray.spec import spec_from_dict
from support import REPO

pytestmark = pytest.mark.integration

ROWS = 1500


def write_rows(path: Path, rows: int) -> str:
    with open(path, "w") as out:
        for i in range(rows):
            out.write(json.dumps({"id": f"r{i}", "question": f"Which is better, {i}?", "answers": ["this", "that"]}) + "\n")
        out.write("{a broken row, quarantined once\n")
    return str(path)


def spec_dict(tmp_path: Path, model: str, data: str, **judge) -> dict:
    # The fixed-latency engine: a known, steady pace, so that a kill lands mid-run.
    return {
        "name": "resume",
        "input": {"path": data},
        "judge": {"model": model, "engine": "fixed-latency", "engine_settings": {"engine_kwargs": {"latency_ms": 4}}, "fast": True,
                  "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1, "batch_size": 64}, **judge},
        "output": str(tmp_path / "out"),
    }


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def ids_in(folder: Path) -> list[str]:
    return [i for part in parts(folder) for i in pq.read_table(part, columns=["id"]).column("id").to_pylist()]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_killed_driver_is_resumed_and_every_row_is_judged_once(ray_local, tiny_model, tmp_path):
    data = write_rows(tmp_path / "rows.jsonl", ROWS)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict(tmp_path, tiny_model, data)))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own local Ray, killed with it
    driver = subprocess.Popen([sys.executable, "-m", "judgelm_ray.cli", "run", str(spec_path)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: parts(out / "judgments") or driver.poll() is not None, 300, "a first committed file")
        assert driver.poll() is None, "the run ended before it could be interrupted"
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything in its process group
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    kept = ids_in(out / "judgments")
    assert 0 < len(kept) < ROWS
    interrupted = json.loads((out / "manifest.json").read_text())
    assert interrupted["status"] == "running" and interrupted["driver"]["pid"] == driver.pid

    # Pool settings only change the pace: they may differ on resume.
    resumed = spec_dict(tmp_path, tiny_model, data, pool={"gpus_per_actor": 0, "batch_size": 32})
    manifest = run_judge(spec_from_dict(resumed))
    assert manifest["status"] == "succeeded" and manifest["resumed"] is True
    counts = manifest["counts"]
    assert counts["read"] == ROWS + 1 and counts["quarantined"] == 1
    assert counts["judged"] == ROWS and counts["reused"] == len(kept)
    judged = ids_in(out / "judgments")
    assert sorted(judged) == sorted(f"r{i}" for i in range(ROWS))  # each row once: none lost, none twice
    assert set(kept) <= set(judged)
    assert len(pq.read_table(parts(out / "quarantine")[0]).to_pylist()) == 1 and len(parts(out / "quarantine")) == 1
    assert not (out / ".staging").exists() or not list((out / ".staging").iterdir())

    # Other judging settings would mix two runs' judgments in one folder: refused, naming the change.
    with pytest.raises(RunRefused, match=r"judge.swap: False -> True"):
        run_judge(spec_from_dict(spec_dict(tmp_path, tiny_model, data, swap=True)))
    assert json.loads((out / "manifest.json").read_text())["status"] == "succeeded"  # left as it was
    # --restart starts over on purpose.
    fresh = run_judge(spec_from_dict(spec_dict(tmp_path, tiny_model, data, swap=True)), restart=True)
    assert fresh["resumed"] is False and fresh["counts"]["reused"] == 0 and fresh["counts"]["judged"] == ROWS
    assert sorted(ids_in(out / "judgments")) == sorted(f"r{i}" for i in range(ROWS))


def judge_actor_processes() -> list[psutil.Process]:
    """Worker processes of this test's own Ray that hold a judge actor."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "JudgeActor" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def test_a_killed_judge_actor_is_restarted_and_no_row_is_lost_or_repeated(ray_local, tiny_model, tmp_path, capsys):
    data = write_rows(tmp_path / "rows.jsonl", ROWS)
    spec = spec_from_dict(spec_dict(tmp_path, tiny_model, data))
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(manifest=run_judge(spec)))
    run.start()
    wait_for(lambda: parts(tmp_path / "out" / "judgments") or not run.is_alive(), 300, "a first committed file")
    [actor] = judge_actor_processes()
    actor.send_signal(signal.SIGKILL)
    run.join(timeout=600)
    manifest = result["manifest"]
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["judged"] == ROWS and manifest["counts"]["quarantined"] == 1
    assert sorted(ids_in(tmp_path / "out" / "judgments")) == sorted(f"r{i}" for i in range(ROWS))
    # The person watching is told, in one line with the time.
    shown = capsys.readouterr().out
    assert re.search(r"^! \d\d:\d\d:\d\d a judge actor was restarted", shown, re.M), shown[-3000:]
