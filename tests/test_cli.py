"""The command line as a user runs it: exit codes, what it prints."""

from __future__ import annotations

import yaml

from judgelm_ray.cli import main
from support.specs import write_cli_spec as write_spec


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
