"""`judgelm-ray run` as a user runs it: a real local Ray in a child process, the summary it prints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.specs import write_cli_spec as write_spec


@pytest.mark.integration
def test_run_from_the_command_line_prints_the_summary_and_exits_zero(tmp_path, tiny_model):
    spec = write_spec(tmp_path, tiny_model, swap=True, fast=True)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, "-m", "judgelm_ray.cli", "run", str(spec)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows read                    27" in result.stdout
    assert "quarantined                  2" in result.stdout
    assert (tmp_path / "cli-out" / "manifest.json").is_file()
