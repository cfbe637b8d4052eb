"""A judge spec file for the command-line tests: the smoke set on CPU actors."""

from __future__ import annotations

from pathlib import Path

import yaml

from support import REPO


def write_cli_spec(tmp_path: Path, model: str, **judge) -> Path:
    spec = {
        "name": "cli",
        "input": {"path": str(REPO / "jobs" / "data" / "smoke.jsonl")},
        "judge": {"model": model, "sampling": {"max_tokens": 8}, "pool": {"gpus_per_actor": 0}, **judge},
        "output": str(tmp_path / "{name}-out"),
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
