"""The run folder users read, in one place.

    <output>/judgments/*.parquet    one row per judged input row       (judge job)
    <output>/quarantine/*.parquet   every row that could not be judged (judge job)
    <output>/manifest.json          what the judge job ran, or is running (judge job)
    <output>/.staging/              files being written, renamed into judgments/ or quarantine/
                                    once complete                      (judge job)
    <output>/eval/                  metrics.json, report.md, plots     (evaluate job)
    <output>/train/                 model/, checkpoints/, deepspeed_config.json, train_spec.json,
                                    manifest.json                      (train job)
    <output>/teacher/               records.jsonl (JudgeLM-format training records), manifest.json,
                                    plain/ and reference/: its two judge runs   (teacher step)

`judge.model` may name a training run folder or the job folder above it (`resolve_judge_model`);
`train.data.path` a teacher folder or the job folder above it (`resolve_train_data`).
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass

import pyarrow.fs as pafs

from judgelm_ray import storage

MODEL_DIR = "model"
TEACHER_RECORDS = "records.jsonl"


def _under_root(*parts: str) -> property:
    return property(lambda folder: storage.join(folder.root, *parts))


@dataclass(frozen=True)
class RunFolder:
    """A job's output folder (local or s3://)."""

    root: str
    judgments = _under_root("judgments")
    quarantine = _under_root("quarantine")
    manifest = _under_root("manifest.json")
    staging = _under_root(".staging")
    # Formats that join several files (mtbench) are joined once into a file here, which the run reads.
    joined_input = _under_root("input")
    eval = _under_root("eval")
    # A sub-folder, so a spec that trains and judges keeps two manifests apart.
    train = _under_root("train")
    teacher = _under_root("teacher")


@dataclass(frozen=True)
class TeacherFolder:
    """The teacher step's folder, `RunFolder.teacher`: each pass is a judge run folder of its own."""

    root: str
    records = _under_root(TEACHER_RECORDS)
    manifest = _under_root("manifest.json")
    plain = _under_root("plain")  # judged without the reference
    reference = _under_root("reference")  # judged with it


@dataclass(frozen=True)
class TrainFolder:
    """A training run's folder, `RunFolder.train`."""

    root: str
    model = _under_root(MODEL_DIR)
    checkpoints = _under_root("checkpoints")  # Ray Train's storage: DeepSpeed checkpoints and Ray's state
    deepspeed_config = _under_root("deepspeed_config.json")
    train_spec = _under_root("train_spec.json")
    manifest = _under_root("manifest.json")
    result = _under_root("result.json")  # written by rank 0 at the end; the driver's manifest reads it


# Room a run wants on a local output disk beyond its results: the manifest, the logs, and the
# staging copy of a file being committed.
HEADROOM_BYTES = 64 << 20


def check_output(root: str) -> None:
    """Refuse an output path that is a file before any work is done."""
    fs, inner = storage.filesystem_for(root)
    if fs.get_file_info(inner).type == pafs.FileType.File:
        raise NotADirectoryError(f"output: {root} is a file; set output to a folder (the run writes judgments/, "
                                 "quarantine/, manifest.json and logs/ there)")


def check_room(root: str, input_bytes: int) -> None:
    """Refuse a local output whose disk cannot hold the results (judgments carry each row's text, so
    about the input's size) before any row is judged, rather than when the disk fills."""
    if storage.is_remote(root):
        return
    existing = os.path.abspath(root)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    free, needed = shutil.disk_usage(existing).free, input_bytes + HEADROOM_BYTES
    if free < needed:
        raise OSError(errno.ENOSPC, f"output: {root} has {free / 2**20:,.1f} MiB free; the run needs about "
                      f"{needed / 2**20:,.1f} MiB (the input's size and {HEADROOM_BYTES >> 20} MiB to spare)")


def resolve_judge_model(path: str) -> str:
    """`judge.model` naming a training run folder (or the job folder above it) -> its exported model."""
    for candidate in (storage.join(path, MODEL_DIR), storage.join(path, "train", MODEL_DIR)):
        if _is_file(storage.join(candidate, "config.json")):
            return candidate
    return path


def resolve_train_data(path: str) -> str:
    """`train.data.path` naming a teacher folder (or the job folder above it) -> the records it wrote."""
    for candidate in (storage.join(path, TEACHER_RECORDS), storage.join(path, "teacher", TEACHER_RECORDS)):
        if _is_file(candidate):
            return candidate
    return path


def _is_file(path: str) -> bool:
    fs, inner = storage.filesystem_for(path)
    return fs.get_file_info(inner).type == pafs.FileType.File
