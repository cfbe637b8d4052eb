"""The judge job on Ray Data: read -> adapt -> prepare -> commit quarantined -> judge actor pool
-> parse/merge -> commit judgments.

`_judge` wires the reading (`reading`), the pure stages (`stages`), the engine actor (`actor`)
and the commits (`commit`) into Ray Data, in data-path order; `resume` decides whether the
output folder is continued, started afresh or refused.

Rows stream through: the driver holds the ids of duplicated rows, one byte per input row when it
resumes (`resume.finished_rows`) and per-batch statistics, never rows. Every row is judged or
quarantined exactly once across interruptions: a row is finished when a committed file holds it,
and a resumed run skips finished rows when it reads the input.
"""

from __future__ import annotations

import os
import time

import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy, DataContext

from judgelm_ray import connect, console, inputs, model_store, progress, storage
from judgelm_ray.judge import commit, reading, resume, stages
from judgelm_ray.judge.actor import ConcurrentJudgeActor, JudgeActor, Secret, actor_placement
from judgelm_ray.manifest import build_manifest, utc_now, write_failed_manifest
from judgelm_ray.runs import RunFolder, check_room, resolve_judge_model
from judgelm_ray.spec import JobSpec, JudgeSpec, resolved_dict

# Rows per batch of the CPU stage that validates and tokenizes: the tokenizer works on a batch at once.
PREPARE_ROWS = 256
# Rows per committed judgments file (at least a pool batch): an interrupted run redoes at most
# the rows judged since their last commit, and a million rows make about a thousand files.
COMMIT_ROWS = 1024


# Up to this many committed files the driver sums their statistics itself: a Ray Data pass costs
# seconds however few files there are; beyond it, the files are summed in parallel across the cluster.
DRIVER_STATS_FILES = 64


def _sum_stats(judgments_path: str) -> dict:
    """The sums of `stages.judgment_stats` over every committed judgments file."""
    totals = dict.fromkeys(stages.JUDGMENT_STAT_KEYS, 0)
    parts = resume.part_files(judgments_path)
    if not parts:
        return totals
    fs, _ = storage.filesystem_for(judgments_path)
    columns = list(stages.STATS_COLUMNS)
    if len(parts) <= DRIVER_STATS_FILES:
        partials = [stages.judgment_stats(pq.read_table(part, columns=columns, filesystem=fs)).to_pylist()[0]
                    for part in parts]
    else:
        partials = ray.data.read_parquet(parts, filesystem=fs).select_columns(columns).map_batches(
            stages.judgment_stats, batch_format="pyarrow"
        ).take_all()
    for partial in partials:
        for key in totals:
            totals[key] += partial[key]
    return totals


def run_judge(spec: JobSpec, restart: bool = False) -> dict:
    """Run a judge job end to end, continuing what an interrupted run on the same output
    finished (`restart`: start over), and return its manifest. The manifest in <output> says
    "running" while it runs and "failed", with the error, when it fails."""
    started = utc_now()
    paths = RunFolder(spec.output)
    # judge.model may name a training run folder: judge with the model exported there.
    if spec.judge.model:
        spec = spec.model_copy(update={"judge": spec.judge.model_copy(
            update={"model": resolve_judge_model(spec.judge.model)})})
    judge = spec.judge
    run = {"driver": resume.driver()}
    owner = False  # until this run owns the output, a failure must not replace what is there
    try:
        # What can be refused is refused before Ray starts: an input, a model, an API or room that is not there.
        if judge.model:
            model_store.require_model(judge.model, "judge.model")
        api_key = _check_endpoint(judge)
        plan = reading.plan_input(spec.input)
        run.update(inputs=resume.file_listing(plan.fs, plan.files),
                   model_files=resume.model_listing(judge.model) if judge.model else [])
        check_room(spec.output, sum(size for _, size, _ in run["inputs"]))
        resuming = resume.prepare_output(paths, resolved_dict(spec), run, restart)
        owner = True
        if inputs.joins(spec.input.format):
            plan = reading.join_input(spec.input, paths.joined_input)
        if resuming:
            console.say(f"judge: {resuming}")
        if connect.connect():
            connect.check_local_gpus(judge.pool.gpus_per_actor, judge.pool.min_actors)
        run["resumed"] = resuming is not None
        storage.write_json(paths.manifest, {**build_manifest(spec, started, None, {}, {}, "running"), **run})
        counts, stats = _judge(spec, paths, plan, api_key)
    except BaseException as error:
        if owner or not resume.part_files(paths.judgments):
            write_failed_manifest(paths.manifest, spec, started, error, run)
        raise
    # Every row read must be accounted for; a mismatch is a bug, never silently accepted.
    status = "succeeded" if counts["read"] == counts["judged"] + counts["quarantined"] else "counts_mismatch"
    manifest = {**build_manifest(spec, started, utc_now(), counts, stats, status), **run}
    manifest["outputs"] = {"judgments": paths.judgments, "quarantine": paths.quarantine}
    storage.write_json(paths.manifest, manifest)
    storage.remove_tree(paths.staging)
    return manifest


def _check_endpoint(judge: JudgeSpec) -> Secret | None:
    """An API judge's key, from the environment variable the spec names, once its endpoint has answered
    (a wrong URL, model or key fails here in a second, not after a million quarantined rows)."""
    if judge.endpoint is None:
        return None
    from judgelm_ray.engines import openai

    name = judge.endpoint.api_key_env
    if name is not None and not os.environ.get(name):
        raise ValueError(f"judge.endpoint.api_key_env: the environment variable {name} is not set; "
                         f"export {name}=<your key> before the run")
    key = os.environ[name] if name else None
    openai.check_endpoint(judge.endpoint.model_dump(), key)
    return Secret(key) if key else None


def cost(stats: dict, judge: JudgeSpec) -> float | None:
    """What the run's tokens cost at `judge.endpoint.price_per_million`, or None without a price table."""
    price = judge.endpoint.price_per_million if judge.endpoint else None
    if price is None:
        return None
    return round((stats["prompt_tokens"] * price.prompt + stats["completion_tokens"] * price.completion) / 1e6, 6)


def _judge(spec: JobSpec, paths: RunFolder, plan: reading.InputPlan, api_key: Secret | None) -> tuple[dict, dict]:
    tally = progress.start_tally()
    display = console.ProgressDisplay(
        f"judge {spec.name}", "rows", progress.reader(tally), done_keys=("judged", "quarantined"), extras=PROGRESS_EXTRAS
    )
    try:
        with display:
            counts, stats = _judge_rows(spec, paths, plan, tally, display, api_key)
        stats["engine_settings"] = progress.notes(tally).get("engine_settings")
        stats["engine_note"] = small_default_note(stats["engine_settings"], spec.judge)
        return counts, stats
    finally:
        progress.stop_tally(tally)


# vLLM's offline defaults on a GPU are 256-1024 sequences and 8192-16384 tokens a step; less holds a GPU back.
_GPU_DEFAULTS_AT_LEAST = {"max_num_seqs": 256, "max_num_batched_tokens": 8192}


def small_default_note(resolved: dict | None, judge: JudgeSpec) -> str | None:
    """A line for the summary where vLLM, left to its defaults on a GPU, chose less than its offline engine does."""
    if not resolved or judge.pool.gpus_per_actor == 0:
        return None
    small = [f"{name} {resolved[name]}" for name, least in _GPU_DEFAULTS_AT_LEAST.items()
             if resolved.get(name) is not None and resolved[name] < least
             and getattr(judge.engine_settings, name) is None]
    if not small:
        return None
    return (f"vLLM fell back to a small default ({', '.join(small)}): set judge.engine_settings."
            f"{small[0].split()[0]} to use the GPU fully")


# Counts the judge stages add to the tally, as the progress display names them.
PROGRESS_EXTRAS = {"quarantined": "quarantined", "parse_failures": "parse failures", "api_retries": "API retries"}


def _judge_rows(
    spec: JobSpec, paths: RunFolder, plan: reading.InputPlan, tally, display, api_key: Secret | None
) -> tuple[dict, dict]:
    clock = time.monotonic()
    context = DataContext.get_current()
    context.enable_progress_bars = False  # the progress display is ours (console)
    context.execution_options.preserve_order = spec.judge.preserve_order
    judge = spec.judge
    if judge.model:
        judge = judge.model_copy(update={"model": storage.for_workers(judge.model)})
    ids = reading.id_pass(plan, spec.input)
    done, reused, quarantined_before = resume.finished_rows(paths, ids.file_rows)
    display.set_total(ids.rows, start=reused + quarantined_before)
    rows = reading.rows_pass(plan, spec.input, ids.first_rows, ray.put(done) if done else None)

    judge_clock = time.monotonic()
    pool, in_flight = judge.pool, judge.batches_in_flight
    sink = {"staging": paths.staging, "tally": tally}
    committed = rows.map_batches(
        stages.prepare_rows, batch_size=PREPARE_ROWS, batch_format="pyarrow",
        fn_kwargs={"judge": judge, "first_seen": ids.first_seen},
    ).map_batches(
        commit.commit_quarantined, batch_format="pyarrow", fn_kwargs={"folder": paths.quarantine, **sink},
    ).repartition(
        # A block goes to one actor whole: blocks of one actor batch keep every actor of the pool
        # busy. Being its own step, it also keeps Ray Data from fusing the CPU stages into the
        # actor when it runs on CPU (gpus_per_actor: 0), where tokenizing would hold up generation.
        target_num_rows_per_block=pool.batch_size,
    ).map_batches(
        ConcurrentJudgeActor if in_flight > 1 else JudgeActor,
        fn_constructor_kwargs={"judge": judge, "seed": spec.seed, "tally": tally, "api_key": api_key},
        # With batches in flight, Ray Data hands an actor that many at once and its async __call__ takes
        # them side by side (max_concurrency: Ray's limit of calls at once on one actor).
        compute=ActorPoolStrategy(min_size=pool.min_actors, max_size=pool.max_actors,
                                  **({"max_tasks_in_flight_per_actor": in_flight} if in_flight > 1 else {})),
        **({"max_concurrency": in_flight} if in_flight > 1 else {}),
        batch_size=pool.batch_size,
        batch_format="pyarrow",
        **actor_placement(judge),
    ).map_batches(
        # Committing and parsing cost little CPU and reserve none: with a CPU reserved, Ray
        # Data's per-operator budget held them back behind the reading stage until it finished,
        # so nothing was committed (and nothing could be resumed) for most of a run.
        commit.commit_unanswered, batch_format="pyarrow", fn_kwargs={"folder": paths.quarantine, **sink}, num_cpus=0,
    ).map_batches(
        stages.parse_judgments, batch_format="pyarrow", fn_kwargs={"judge": judge}, num_cpus=0,
    ).map_batches(
        commit.commit_judgments, batch_size=max(COMMIT_ROWS, pool.batch_size), batch_format="pyarrow",
        fn_kwargs={"folder": paths.judgments, **sink}, num_cpus=0,
    )
    for _ in committed.iter_batches(batch_size=None):
        pass  # each batch is one committed file; the counts below come from the files themselves
    judge_seconds = time.monotonic() - judge_clock

    totals = _sum_stats(paths.judgments)
    counts = {
        "read": ids.rows,
        "judged": totals["judged"],
        "reused": reused,
        "quarantined": storage.parquet_row_count(paths.quarantine),
        "parse_failures": totals["parse_failures"],
        "injection_flagged": totals["injection_flagged"],
    }
    new = totals["judged"] - reused
    stats = {
        "consistency": totals["consistent"] / totals["both_orders"] if totals["both_orders"] else None,
        "judge_seconds": round(judge_seconds, 3),
        "total_seconds": round(time.monotonic() - clock, 3),
        "rows_per_second": new / judge_seconds if judge_seconds else None,
        "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"],
        "tokens_per_second": (totals["prompt_tokens"] + totals["completion_tokens"]) / judge_seconds
        if judge_seconds
        else None,
        "generated_tokens_per_second": totals["completion_tokens"] / judge_seconds if judge_seconds else None,
    }
    stats["cost"] = cost(stats, spec.judge)
    return counts, stats
