"""`judgelm-ray run` as a user runs it: a real local Ray in a child process, the summary it prints."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from support.specs import write_cli_spec as write_spec


def run_cli(*args: str, tty: bool = False) -> subprocess.CompletedProcess:
    """`judgelm-ray ARGS` in a child process, its output a pipe or (`tty`) a pseudo-terminal."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "judgelm_ray.cli", *args]
    if tty:  # util-linux `script` gives the child a terminal and copies what it shows to stdout
        command = ["script", "-qefc", shlex.join(command), "/dev/null"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.integration
def test_run_in_a_terminal_shows_a_progress_bar_and_the_summary_and_logs_engine_output(tmp_path, tiny_model):
    spec = write_spec(tmp_path, tiny_model, swap=True, fast=True)
    result = run_cli("run", str(spec), tty=True)  # off a terminal the lines are test_console's and test_s3_outage's
    shown = result.stdout
    assert result.returncode == 0, shown[-3000:]
    assert "rows read                    27" in shown and "quarantined                  2" in shown
    assert (tmp_path / "cli-out" / "manifest.json").is_file()
    # The terminal: rich's bar redrawn in place, the summary, the inspect page, the log's path;
    # nothing of Ray's or vLLM's own.
    assert "━" in shown and re.search(r"judge cli .*27/27 rows .*quarantined 2", shown), shown
    bar, after = shown.rsplit("\x1b[?25h", 1)  # rich shows the cursor again once the bar is done
    assert len(after.splitlines()) <= 20, after  # the summary, the page and the log
    for engine_output in ("WARNING", "INFO", "pid=", "Started a local Ray", "vLLM", "Traceback"):
        assert engine_output not in shown, shown
    assert f"open {tmp_path / 'cli-out' / 'inspect.html'} in a browser" in shown
    (log,) = (tmp_path / "cli-out" / "logs").iterdir()
    assert f"log: {log}" in shown
    text = log.read_text()
    assert "Started a local Ray instance" in text and "JudgeActor" in text  # the engines' output is kept


@pytest.mark.integration
def test_user_errors_are_one_line_before_any_work(tmp_path, tiny_model):
    spec = write_spec(tmp_path, tiny_model)
    afile = tmp_path / "a-file"
    afile.write_text("x")
    result = run_cli("run", str(spec), "--set", f"output={afile}")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: output: {afile} is a file; set output to a folder (the run writes "
                                     "judgments/, quarantine/, manifest.json and logs/ there)")
    missing = tmp_path / "no-such-model"
    result = run_cli("run", str(spec), "--set", f"judge.model={missing}")
    assert result.returncode == 2
    error, log = result.stderr.strip().splitlines()
    assert error == f"error: judge.model: {missing} does not exist (give a local model folder or an s3:// URI)"
    assert "Traceback" in open(log.removeprefix("log: ")).read()


@pytest.mark.integration
def test_a_full_disk_is_refused_before_judging(tmp_path, tiny_model):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        spec = write_spec(tmp_path, tiny_model)
        result = run_cli("run", str(spec), "--set", f"output={disk}/out")
        assert result.returncode == 2
        error, log = result.stderr.strip().splitlines()
        assert error.startswith(f"error: disk full: output: {disk}/out has ") and "MiB free" in error, error
        assert "Traceback" not in result.stderr and "Traceback" in open(log.removeprefix("log: ")).read()
        assert not (disk / "out" / "judgments").exists()  # refused before any row was judged
    finally:
        subprocess.run(["umount", str(disk)], check=True)
