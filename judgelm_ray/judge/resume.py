"""Starting a judge run on its output folder: fresh, resumed, or refused.

A run's state is its output folder: ``manifest.json`` (status ``running``, ``failed`` or
``succeeded``; the resolved spec; the input files with their sizes; the driver's host and pid)
and the committed files of ``judgments/`` and ``quarantine/`` (``commit``). A new run on the same
output:
- finds no committed results: starts fresh;
- finds results of a run with the same judging settings and the same input files: resumes. The
  rows those files hold are kept and skipped when the input is read, so every row is judged once;
- finds results of a run with other judging settings (any of ``input``, ``judge`` and ``seed``
  but the throughput-only ones below) or other input files: refused with what differs, because
  mixing them would give a judgments folder no single spec produced; ``--restart`` starts over;
- finds a ``running`` manifest whose driver is alive on this host: refused, as two drivers would
  judge the same rows.
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from judgelm_ray import storage
from judgelm_ray.judge.commit import PART_PREFIX
from judgelm_ray.runs import RunFolder
from judgelm_ray.spec import ENDPOINT_THROUGHPUT_ONLY, ENGINE_THROUGHPUT_ONLY, InputSpec, JudgeSpec

# Settings that change how fast rows are judged, never what a row's judgment is (fixed_latency_ms: a
# key of older versions, now engine_settings.engine_kwargs.latency_ms).
THROUGHPUT_ONLY = {"input": {"split_mb", "block_rows"}, "judge": {"pool", "fixed_latency_ms", "preserve_order"}}


class RunRefused(ValueError):
    """The output holds a run this one must not continue; the message says what to change."""


def judging_settings(spec: dict) -> dict:
    """The parts of a resolved spec that decide the judgments."""
    judge = {k: v for k, v in spec["judge"].items() if k not in THROUGHPUT_ONLY["judge"]}
    if judge.get("endpoint"):
        judge["endpoint"] = {k: v for k, v in judge["endpoint"].items() if k not in ENDPOINT_THROUGHPUT_ONLY}
    if judge.get("engine_settings"):
        judge["engine_settings"] = {k: v for k, v in judge["engine_settings"].items() if k not in ENGINE_THROUGHPUT_ONLY}
    return {
        "input": {k: v for k, v in spec["input"].items() if k not in THROUGHPUT_ONLY["input"]},
        "judge": judge,
        "seed": spec["seed"],
    }


def with_new_defaults(settings: dict) -> dict:
    """An older version's settings with the keys added since at their defaults (`judge.template` came
    later, defaulting to JudgeLM's): what that version did, so its runs stay resumable."""
    filled = {**settings}
    for section, model in (("input", InputSpec), ("judge", JudgeSpec)):
        defaults = {name: field.get_default(call_default_factory=True) for name, field in model.model_fields.items()
                    if not field.is_required()}
        plain = {k: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for k, v in defaults.items()}
        filled[section] = {**{k: v for k, v in plain.items() if k not in THROUGHPUT_ONLY[section]}, **settings[section]}
    return filled


def differences(old: object, new: object, where: str = "") -> list[str]:
    """Dotted keys whose values differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(old.keys() | new.keys())
                for line in differences(old.get(key), new.get(key), f"{where}.{key}" if where else key)]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def file_listing(fs: pafs.FileSystem, files: list[str]) -> list[list]:
    """[path, size, modification time] per file: a resumed run must read the very same input with
    the very same model (a row is known by its file and row number, not by its content)."""
    return [[info.path, info.size, info.mtime_ns] for info in fs.get_file_info(files)]


def model_listing(model: str) -> list[list]:
    """The judge model's files (a local or s3:// folder); none for a hub name."""
    if not storage.is_remote(model) and not os.path.isdir(model):
        return []
    fs, inner = storage.filesystem_for(model)
    files = [i.path for i in fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True)) if i.is_file]
    return file_listing(fs, sorted(files))


def driver() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _driver_alive(manifest: dict) -> bool:
    owner = manifest.get("driver") or {}
    if owner.get("host") != socket.gethostname() or not owner.get("pid"):
        return False  # another machine: a spot node that is gone, as far as we can tell
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def part_files(folder: str) -> list[str]:
    """Committed files of a results folder (never a staging or temporary file)."""
    fs, inner = storage.filesystem_for(folder)
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        return []
    selector = pafs.FileSelector(inner, recursive=False)
    return sorted(i.path for i in fs.get_file_info(selector)
                  if i.is_file and os.path.basename(i.path).startswith(PART_PREFIX) and i.path.endswith(".parquet"))


def prepare_output(paths: RunFolder, spec: dict, files: dict[str, list], restart: bool) -> str | None:
    """Make `paths` ready for this run; returns what an earlier run left to resume, or None
    for a fresh start. Raises RunRefused where continuing would mix runs.

    `files`: {"inputs": file_listing of the input, "model_files": model_listing of the judge}.
    """
    old = storage.read_json(paths.manifest) if storage.exists(paths.manifest) else None
    if old is not None and old.get("status") == "running" and _driver_alive(old):
        raise RunRefused(f"{paths.root}: another run (pid {old['driver']['pid']}) is writing to this output; "
                         "wait for it, stop it, or choose another output")
    has_results = bool(part_files(paths.judgments) or part_files(paths.quarantine))
    if restart or not has_results:
        for folder in (paths.judgments, paths.quarantine):
            storage.remove_tree(folder)
        storage.remove_tree(paths.staging)
        return None
    if old is None:
        raise RunRefused(f"{paths.root} holds judgments but no manifest.json, so it cannot be resumed; "
                         "run with --restart to start over, or choose another output")
    changed = differences(with_new_defaults(judging_settings(old["spec"])), judging_settings(spec))
    for key, what in (("inputs", "input files"), ("model_files", "judge model files")):
        if old.get(key) != files[key]:
            changed.append(f"{what} added, removed or changed since that run")
    if changed:
        raise RunRefused(f"{paths.root} holds a run with other judging settings ({'; '.join(changed)}); "
                         "run with --restart to start over, or choose another output")
    storage.remove_tree(paths.staging)  # temporary files of writes that never committed
    state = "was interrupted" if old.get("status") == "running" else old.get("status", "unknown")
    return f"resuming the run started {old.get('started')} ({state})"


def finished_rows(paths: RunFolder, file_rows: dict[str, int]) -> tuple[dict[str, np.ndarray], int, int]:
    """Rows the committed files hold, as {source: done flag per row}, and how many are judged
    and quarantined. Holds one byte per input row of the files that have any finished row."""
    done: dict[str, np.ndarray] = {}
    counts = []
    for folder in (paths.judgments, paths.quarantine):
        fs, _ = storage.filesystem_for(folder)
        total = 0
        for part in part_files(folder):
            keys = pq.read_table(part, columns=["source", "row"], filesystem=fs)
            total += keys.num_rows
            for source in set(keys.column("source").to_pylist()):
                if source not in file_rows:
                    raise RunRefused(f"{part} holds rows of {source}, which is not an input of this run; "
                                     "run with --restart to start over")
                flags = done.setdefault(source, np.zeros(file_rows[source], dtype=bool))
                mask = keys.column("source").to_numpy(zero_copy_only=False) == source
                flags[keys.column("row").to_numpy()[mask]] = True
        counts.append(total)
    return done, counts[0], counts[1]
