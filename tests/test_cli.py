"""The command line as a user runs it: exit codes, what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from judgelm_ray.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_spec(tmp_path: Path, model: str, **judge) -> Path:
    spec = {
        "name": "cli",
        "input": {"path": str(REPO / "jobs" / "data" / "smoke.jsonl")},
        "judge": {"model": model, "sampling": {"max_tokens": 8}, "pool": {"gpus_per_actor": 0}, **judge},
        "output": str(tmp_path / "{name}-out"),
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_validate_prints_the_resolved_spec_with_overrides(tmp_path, capsys):
    spec = write_spec(tmp_path, "some/model")
    assert main(["validate", str(spec), "--set", "judge.swap=true"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["judge"]["swap"] is True
    assert resolved["output"] == str(tmp_path / "cli-out")
    assert resolved["judge"]["pool"]["max_actors"] == 1


def test_validate_fails_with_the_dotted_path_of_an_unknown_key(tmp_path, capsys):
    spec = write_spec(tmp_path, "some/model")
    assert main(["validate", str(spec), "--set", "judge.pool.max_actor=2"]) == 2
    err = capsys.readouterr().err
    assert "judge.pool.max_actor" in err and "max_actors" in err and "spec.yaml" in err


def test_render_prints_the_exact_prompts_in_both_orders(tmp_path, tiny_model, capsys):
    spec = write_spec(tmp_path, tiny_model, swap=True)
    assert main(["render", str(spec), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("=====") == 8  # 2 rows x 2 orders, a header line each
    assert "===== capital-0 (forward) =====\nYou are a helpful and precise assistant" in out
    assert "===== capital-0 (swapped) =====" in out and "capital-1 (swapped)" in out


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    spec = write_spec(tmp_path, "some/model")
    assert main(["render", str(spec), "--set", f"input.path={tmp_path}/nothing.jsonl"]) == 2
    assert "nothing.jsonl does not exist" in capsys.readouterr().err


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
