"""The teacher step's two judge passes and what it makes of them: records and a manifest.

    <output>/teacher/plain/        judge run: every pair, without the reference
    <output>/teacher/reference/    judge run: the pairs with a reference, shown it (reference: always;
                                   pairs without one are set aside there, never sent)
    <output>/teacher/records.jsonl JudgeLM-format records (`records`), what `train.data.path` reads
    <output>/teacher/manifest.json counts, tokens and cost of both passes

`judgelm_ray.job` runs the passes (`passes`) with the judge job, then `write_records`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from judgelm_ray import console, storage
from judgelm_ray.manifest import build_manifest, utc_now
from judgelm_ray.runs import RunFolder, TeacherFolder
from judgelm_ray.spec import JobSpec
from judgelm_ray.teacher.records import record

# The judgment columns a record is made of.
_COLUMNS = ["id", "judge_text_forward", "scores_forward", "parse_error", "question", "answers", "reference",
            "turns", "answer_turns", "reference_turns", "meta", "model"]


def passes(spec: JobSpec) -> list[tuple[str, JobSpec]]:
    """(name, judge job) of each teacher pass: without the reference, then (`with_reference`) with it."""
    teacher, folder = spec.teacher, TeacherFolder(RunFolder(spec.output).teacher)
    shown = [("plain", False, folder.plain)]
    if teacher.with_reference:
        shown.append(("reference", True, folder.reference))
    return [(name, JobSpec(name=f"{spec.name}.teacher-{name}", seed=spec.seed, input=teacher.input,
                           judge=teacher.judge_spec(with_reference), output=output))
            for name, with_reference, output in shown]


def write_records(spec: JobSpec, manifests: dict[str, dict], started: str) -> dict:
    """Write the records of the passes' judgments and the teacher's manifest; returns the manifest."""
    folder = TeacherFolder(RunFolder(spec.output).teacher)
    with_reference = _judged(manifests["reference"]) if "reference" in manifests else {}
    written, judged_with_reference = 0, 0
    fs, target = storage.filesystem_for(folder.records)
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    # Under another name until complete: an interrupted write never leaves records that look finished.
    with fs.open_output_stream(f"{target}.partial") as out:
        for row in _judged_rows(manifests["plain"]):
            shown = with_reference.get(row["id"])
            judged_with_reference += shown is not None
            out.write(json.dumps(record(row, shown), ensure_ascii=False).encode("utf-8") + b"\n")
            written += 1
    fs.move(f"{target}.partial", target)
    plain = manifests["plain"]
    counts = {
        "pairs": plain["counts"]["read"],
        "records": written,
        "quarantined": plain["counts"]["quarantined"],
        "unparseable": plain["counts"]["parse_failures"],
        "judged_with_reference": judged_with_reference,
        "unparseable_with_reference": manifests["reference"]["counts"]["parse_failures"] if with_reference else 0,
    }
    stats = {key: sum(m["stats"].get(key) or 0 for m in manifests.values())
             for key in ("prompt_tokens", "completion_tokens", "judge_seconds")}
    costs = [m["stats"].get("cost") for m in manifests.values()]
    stats["cost"] = round(sum(costs), 6) if all(c is not None for c in costs) else None
    manifest = build_manifest(spec, started, utc_now(), counts, stats, "succeeded")
    passes_out = {name: m["outputs"]["judgments"] for name, m in manifests.items()}
    manifest["outputs"] = {"records": folder.records, **passes_out}
    storage.write_json(folder.manifest, manifest)
    console.say(f"teacher: {written:,} training records in {folder.records}")
    return manifest


def has_references(plain: dict) -> bool:
    """Whether any pair the plain pass judged has a reference (else the pass with it has nothing to judge)."""
    for fs, part in _parts(plain):
        references = pq.read_table(part, columns=["reference"], filesystem=fs).column("reference")
        if references.null_count < len(references):
            return True
    return False


def _parts(manifest: dict) -> Iterator[tuple[pafs.FileSystem, str]]:
    """The committed judgments files of a pass (its judgments folder holds no other files)."""
    fs, folder = storage.filesystem_for(manifest["outputs"]["judgments"])
    found = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    for part in sorted(info.path for info in found if info.is_file and info.path.endswith(".parquet")):
        yield fs, part


def _judged_rows(manifest: dict) -> Iterator[dict]:
    """The judgments of a pass, file by file."""
    for fs, part in _parts(manifest):
        yield from pq.read_table(part, columns=_COLUMNS, filesystem=fs).to_pylist()


def _judged(manifest: dict) -> dict[str, dict]:
    return {row["id"]: row for row in _judged_rows(manifest)}
