"""The judge job on Ray Data: read -> adapt -> prepare -> judge actor pool -> parse/merge -> write.

`_judge` wires the pure stages (`stages`) and the engine actor (`actor`) into Ray Data, in
data-path order.

Rows stream through; nothing is collected on the driver except the ids of duplicated rows and
per-batch statistics. The input is read up to three times (an id pass to find duplicates, a
quarantine pass, the judging pass) because re-reading and re-adapting is far cheaper than holding
millions of prompts in the object store, and the engine stage (by far the most expensive) runs once.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.data import ActorPoolStrategy

from judgelm_ray import connect, storage
from judgelm_ray.judge import stages
from judgelm_ray.judge.actor import JudgeActor
from judgelm_ray.manifest import build_manifest, utc_now, write_failed_manifest
from judgelm_ray.runs import RunFolder, resolve_judge_model
from judgelm_ray.spec import JobSpec


def read_canonical(spec: JobSpec) -> tuple[ray.data.Dataset, list[str]]:
    """Input files -> a dataset of canonical rows (one per input record, broken ones included)."""
    fs, files = storage.list_input_files(spec.input.path)
    raw = ray.data.read_binary_files(files, include_paths=True, filesystem=fs)
    canonical = raw.map_batches(
        stages.adapt_files,
        batch_format="pyarrow",
        batch_size=1,
        fn_kwargs={"fmt": spec.input.format, "fields": spec.input.fields, "root": storage.common_root(files)},
    )
    return canonical, files


def find_duplicates(ids: ray.data.Dataset, files: list[str]) -> dict[str, tuple[str, int]]:
    """First (source, row) of every id that occurs more than once; later occurrences are quarantined."""
    # Few partitions: the ids are small, and Ray's default of 200 hash partitions costs more than the work.
    counts = ids.groupby("id", num_partitions=max(1, ids.num_blocks())).count()
    repeated = counts.map_batches(lambda t: t.filter(pc.greater(t["count()"], 1)), batch_format="pyarrow")
    duplicated = pa.array([r["id"] for r in repeated.take_all()], type=pa.string())
    if len(duplicated) == 0:
        return {}
    occurrences = ids.map_batches(lambda t: t.filter(pc.is_in(t["id"], value_set=duplicated)), batch_format="pyarrow")
    file_order = {path: i for i, path in enumerate(files)}
    first: dict[str, tuple[str, int]] = {}
    for r in sorted(occurrences.take_all(), key=lambda r: (file_order.get(r["source"], len(files)), r["source"], r["row"])):
        first.setdefault(r["id"], (r["source"], r["row"]))
    return first


def _keep_quarantined(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.is_valid(batch.column("quarantine_reason")))


def _keep_valid(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.is_null(batch.column("quarantine_reason")))


def _sum_stats(judgments_path: str) -> dict:
    totals = {"judged": 0, "parse_failures": 0, "both_orders": 0, "consistent": 0, "prompt_tokens": 0, "completion_tokens": 0}
    if storage.parquet_row_count(judgments_path) == 0:
        return totals
    fs, inner = storage.filesystem_for(judgments_path)
    partials = ray.data.read_parquet(inner, filesystem=fs).map_batches(stages.judgment_stats, batch_format="pyarrow")
    for partial in partials.take_all():
        for key in totals:
            totals[key] += partial[key]
    return totals


def run_judge(spec: JobSpec) -> dict:
    """Run a judge job end to end and return its manifest (also written to <output>/manifest.json,
    with status "failed" and the error when the run fails)."""
    started = utc_now()
    paths = RunFolder(spec.output)
    try:
        # judge.model may name a training run folder: judge with the model exported there.
        judge = spec.judge.model_copy(update={"model": resolve_judge_model(spec.judge.model)})
        spec = spec.model_copy(update={"judge": judge})
        counts, stats = _judge(spec, paths)
    except Exception as error:
        write_failed_manifest(paths.manifest, spec, started, error)
        raise
    # Every row read must be accounted for; a mismatch is a bug, never silently accepted.
    status = "succeeded" if counts["read"] == counts["judged"] + counts["quarantined"] else "counts_mismatch"
    manifest = build_manifest(spec, started, utc_now(), counts, stats, status)
    manifest["outputs"] = {"judgments": paths.judgments, "quarantine": paths.quarantine}
    storage.write_json(paths.manifest, manifest)
    return manifest


def _judge(spec: JobSpec, paths: RunFolder) -> tuple[dict, dict]:
    clock = time.monotonic()
    judge = spec.judge.model_copy(update={"model": storage.for_workers(spec.judge.model)})
    started_local_ray = connect.connect()
    if started_local_ray:
        connect.check_local_gpus(judge.pool.gpus_per_actor, judge.pool.min_actors)
    # Input problems (a wrong path) fail here, before an earlier run's results are replaced.
    canonical, files = read_canonical(spec)
    storage.remove_tree(paths.judgments)
    storage.remove_tree(paths.quarantine)
    ids = canonical.select_columns(["id", "source", "row"]).materialize()
    rows_read = ids.count()
    first_seen = find_duplicates(ids, files)
    prepared = canonical.map_batches(
        stages.prepare_rows, batch_format="pyarrow", fn_kwargs={"judge": judge, "first_seen": first_seen}
    )

    fs, quarantine_dir = storage.filesystem_for(paths.quarantine)
    prepared.map_batches(_keep_quarantined, batch_format="pyarrow").map_batches(
        stages.quarantine_rows, batch_format="pyarrow"
    ).write_parquet(quarantine_dir, filesystem=fs)

    judge_clock = time.monotonic()
    pool = judge.pool
    fs, judgments_dir = storage.filesystem_for(paths.judgments)
    prepared.map_batches(_keep_valid, batch_format="pyarrow").map_batches(
        JudgeActor,
        fn_constructor_kwargs={"judge": judge, "seed": spec.seed},
        compute=ActorPoolStrategy(min_size=pool.min_actors, max_size=pool.max_actors),
        batch_size=pool.batch_size,
        batch_format="pyarrow",
        num_gpus=pool.gpus_per_actor,
        num_cpus=pool.cpus_per_actor,
        accelerator_type=pool.accelerator_type,
    ).map_batches(stages.parse_judgments, batch_format="pyarrow", fn_kwargs={"judge": judge}).write_parquet(
        judgments_dir, filesystem=fs
    )
    judge_seconds = time.monotonic() - judge_clock

    totals = _sum_stats(paths.judgments)
    quarantined = storage.parquet_row_count(paths.quarantine)
    counts = {
        "read": rows_read,
        "judged": totals["judged"],
        "quarantined": quarantined,
        "parse_failures": totals["parse_failures"],
    }
    stats = {
        "consistency": totals["consistent"] / totals["both_orders"] if totals["both_orders"] else None,
        "judge_seconds": round(judge_seconds, 3),
        "total_seconds": round(time.monotonic() - clock, 3),
        "rows_per_second": totals["judged"] / judge_seconds if judge_seconds else None,
        "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"],
        "tokens_per_second": (totals["prompt_tokens"] + totals["completion_tokens"]) / judge_seconds
        if judge_seconds
        else None,
        "generated_tokens_per_second": totals["completion_tokens"] / judge_seconds if judge_seconds else None,
    }
    return counts, stats
