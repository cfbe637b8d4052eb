"""What the terminal shows: one live progress display per section, one-line notices, and the
summary table each section prints at its end.

Everything else (Ray's, vLLM's, DeepSpeed's and transformers' own output) goes to the run's log
(`runlog`); what is written here goes to the terminal that `runlog` kept aside, or to stdout.
Each summary reads a section's manifest (or the evaluation's metrics) only, so it can be printed
again from the files a run left behind.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

# Where the terminal is while `runlog` sends everything else to the log (None: sys.stdout).
_terminal = None
# A non-terminal (a submitted job's log, CI) gets one progress line this often, in seconds
# (None: only each section's last line).
LINE_EVERY: float | None = 10.0
# The same notice is shown again only after this many seconds.
REPEAT_AFTER = 60.0


def set_terminal(stream) -> None:
    global _terminal
    _terminal = stream


def terminal():
    return _terminal or sys.stdout


def say(text: str) -> None:
    """One line for the person at the terminal."""
    print(text, file=terminal(), flush=True)


@contextlib.contextmanager
def last_lines_only() -> Iterator[None]:
    """Off a terminal, each section prints only its last line (the demo's one line per step)."""
    global LINE_EVERY
    every, LINE_EVERY = LINE_EVERY, None
    try:
        yield
    finally:
        LINE_EVERY = every


def notice(text: str) -> None:
    """Something that matters while a run goes on (a node lost, a write retried), with the time."""
    say(f"! {time.strftime('%H:%M:%S')} {text}")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(done: int, total: int | None, unit: str, rate: float | None, extras: dict[str, int],
                  eta: bool = True) -> str:
    """`1,234/10,000 rows  56.7 rows/s  ETA 2:35  quarantined 3  parse failures 0`."""
    parts = [f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"]
    if rate:
        parts.append(f"{rate:,.1f} {unit}/s")
        if total is not None and eta:
            parts.append(f"ETA {duration(max(total - done, 0) / rate)}")
    parts += [f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value:,}" for name, value in extras.items()]
    return "  ".join(parts)


class ProgressDisplay:
    """The live display of one section: done of total, rate, ETA and the section's own counts.

    `read()` returns (counts, events): `done_keys` of the counts add up to what is done, `extras`
    (count key -> label) are shown beside it, events are printed as notices. In a terminal the
    display is a progress bar redrawn a few times a second; elsewhere a line every `LINE_EVERY` s.
    """

    def __init__(self, section: str, unit: str, read: Callable[[], tuple[dict, list[str]]],
                 done_keys: tuple[str, ...], extras: dict[str, str] | None = None,
                 total: int | None = None, start: int = 0):
        self.section, self.unit, self.read = section, unit, read
        self.done_keys, self.extras = done_keys, extras or {}
        self.total, self.start = total, start
        self.first: tuple[float, int] | None = None  # (time, done) when work was first seen done
        self.noticed: dict[str, float] = {}  # event -> when it was last shown
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"{section}-progress", daemon=True)
        stream = terminal()
        self.bar = None
        if hasattr(stream, "isatty") and stream.isatty():
            self.bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[text]}"),
                console=Console(file=stream), refresh_per_second=4,
                redirect_stdout=False, redirect_stderr=False,  # what others print belongs in the log (runlog)
            )

    def set_total(self, total: int, start: int = 0) -> None:
        """The total once it is known (after the input was counted), and what an earlier run did."""
        self.total, self.start = total, start

    def __enter__(self) -> ProgressDisplay:
        self.clock = time.monotonic()
        self.last_line = self.clock
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task(self.section, total=None, text="")
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self._update(final=True)
        if self.bar is not None:
            self.bar.stop()

    def _loop(self) -> None:
        while not self.stopped.wait(0.5):
            self._update()

    def _update(self, final: bool = False) -> None:
        counts, events = self.read()
        now = time.monotonic()
        for line in events:
            self._notice(line, now)
        self.total = counts.get("total", self.total)  # a section that learns its total as it runs (train)
        done = self.start + sum(counts.get(key, 0) for key in self.done_keys)
        elapsed = now - self.clock
        # The rate counts from the first work done, not from the start-up (workers, model loads).
        if self.first is None and done > self.start:
            self.first = (now, done)
        moving = self.first is not None and now > self.first[0] and done > self.first[1]
        rate = (done - self.first[1]) / (now - self.first[0]) if moving else None
        if final and rate is None and done > self.start:
            rate = (done - self.start) / elapsed  # everything arrived at once (one commit): the whole section's rate
        extras = {label: counts[key] for key, label in self.extras.items() if key in counts}
        text = progress_text(done, self.total, self.unit, rate, extras, eta=not final) if counts else "starting"
        if final:
            text += f"  ({duration(elapsed)})"  # the last line says how long the section took
        if self.bar is not None:
            self.bar.update(self.task, total=self.total, completed=done, text=text)
        elif final or (LINE_EVERY is not None and now - self.last_line >= LINE_EVERY):
            self.last_line = now
            self._print(f"{self.section}: {text}")

    def _notice(self, line: str, now: float) -> None:
        """An event as a notice; the same event again within `REPEAT_AFTER` s is not repeated (many
        tasks meet the same outage at once)."""
        what = line.split(" ", 1)[-1]  # without its time
        if now - self.noticed.get(what, -REPEAT_AFTER) >= REPEAT_AFTER:
            self.noticed[what] = now
            self._print(f"! {line}")

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.console.print(line, highlight=False, markup=False)
        else:
            say(line)


def number(value, fmt: str = "{:,}") -> str:
    """A value for a summary table; "-" where there is none."""
    return "-" if value is None else fmt.format(value)


def percent(value) -> str:
    """A rate (a fraction) as a percentage with two decimals; "-" where there is none."""
    return "-" if value is None else f"{100 * value:.2f}"


def summary_table(lines: list[tuple[str, str]]) -> str:
    """The two-column table printed at the end of a run."""
    width = max(len(key) for key, _ in lines)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in lines)


def judge_summary(manifest: dict) -> str:
    """The table printed at the end of a judge run."""
    counts, stats = manifest["counts"], manifest["stats"]
    lines = [
        ("rows read", number(counts["read"])),
        ("judged", number(counts["judged"])),
        ("quarantined", number(counts["quarantined"])),
        ("parse failures", number(counts["parse_failures"])),
        ("injection flagged", number(counts.get("injection_flagged"))),
        ("consistency (both orders)", number(stats["consistency"], "{:.3f}")),
        ("rows/s", number(stats["rows_per_second"], "{:.2f}")),
        ("tokens/s (prompt+generated)", number(stats["tokens_per_second"], "{:.1f}")),
        ("generated tokens/s", number(stats["generated_tokens_per_second"], "{:.1f}")),
        *([("cost (judge.endpoint.price_per_million)", f"{stats['cost']:,.4f}")] if stats.get("cost") is not None else []),
        *([("engine", engine_line(stats["engine_settings"]))] if stats.get("engine_settings") else []),
        *([("note", stats["engine_note"])] if stats.get("engine_note") else []),
        ("status", manifest["status"]),
        ("output", manifest["outputs"]["judgments"]),
    ]
    return summary_table(lines)


def engine_line(settings: dict) -> str:
    """What the engine ran with, in a few words (the manifest's stats.engine_settings has all of it)."""
    batches = settings.get("concurrent_batches", 1)
    parts = [settings["engine"], f"{batches} batch{'es' if batches != 1 else ''} in flight"]
    parts += [f"{name} {settings[name]}" for name in ("max_num_seqs", "max_num_batched_tokens", "kv_cache_dtype",
                                                     "quantization") if settings.get(name) is not None]
    if settings.get("enable_prefix_caching") is not None:
        parts.append(f"prefix caching {'on' if settings['enable_prefix_caching'] else 'off'}")
    return ", ".join(parts)


def teacher_summary(manifest: dict) -> str:
    """The table printed at the end of the teacher step."""
    counts, stats = manifest["counts"], manifest["stats"]
    if manifest["status"] != "succeeded":
        return summary_table([("status", manifest["status"])])
    lines = [
        ("answer pairs", number(counts["pairs"])),
        ("training records", number(counts["records"])),
        ("quarantined", number(counts["quarantined"])),
        ("unparseable (kept, marked)", number(counts["unparseable"])),
        ("judged with reference", number(counts["judged_with_reference"])),
        ("tokens (prompt / completion)", f"{number(stats['prompt_tokens'])} / {number(stats['completion_tokens'])}"),
        ("cost (endpoint.price_per_million)", number(stats["cost"], "{:,.4f}")),
        ("records", manifest["outputs"]["records"]),
    ]
    return summary_table(lines)


def train_summary(manifest: dict) -> str:
    """The table printed at the end of a training run."""
    counts, stats = manifest["counts"], manifest["stats"]
    lines = [
        ("examples", number(counts["examples"])),
        ("dropped", ", ".join(f"{k}: {v}" for k, v in counts["dropped"].items()) or "0"),
        ("steps", f"{stats['steps']}/{stats['total_steps']}"),
        ("resumed from step", number(stats["resumed_from_step"])),
        ("loss (first -> last)", f"{number(stats['first_loss'], '{:.4f}')} -> {number(stats['final_loss'], '{:.4f}')}"),
        ("eval loss", number(stats["eval_loss"], "{:.4f}")),
        ("tokens/s (all workers)", number(stats["tokens_per_second"], "{:,.0f}")),
        ("status", manifest["status"]),
        ("model", manifest["outputs"]["model"]),
    ]
    return summary_table(lines)


def evaluation_summary(result: dict) -> str:
    """The compact table of an evaluation's metrics."""
    ci = result["ci"] or {}
    failures = result["parse_failures"]
    interval = f"  [{percent(ci['agreement'][0])}, {percent(ci['agreement'][1])}]" if ci else ""
    lines = [
        ("rows evaluated", f"{result['n']:,}"),
        ("agreement %", percent(result["agreement"]) + interval),
        ("precision / recall / F1 %", " / ".join(percent(result[k]) for k in ("precision", "recall", "f1"))),
        ("agreement swapped / both %", f"{percent(result['agreement_swapped'])} / {percent(result['agreement_both'])}"),
        ("consistency %", percent(result["consistency"])),
        ("prefer first / second %", f"{percent(result['prefer_first'])} / {percent(result['prefer_second'])}"),
        ("parse failures (fwd/swap)", f"{failures['forward']} / {failures['swapped']}  (policy {failures['policy']})"),
        ("gold unparseable", str(result["counts"]["gold_unparseable"])),
        ("missing predictions / gold", f"{result['counts']['missing_predictions']} / {result['counts']['missing_gold']}"),
    ]
    # Single-answer grading has no verdicts: its result is how its scores follow the gold scores.
    if result["scores"]["n"] or not result["n"]:
        correlations = " / ".join(number(result["scores"][k], "{:.3f}") for k in ("pearson", "spearman", "kendall"))
        lines.append(("scores compared with gold", f"{result['scores']['n']:,}"))
        lines.append(("pearson / spearman / kendall", correlations))
    coverage = result.get("coverage")
    if coverage:  # judge.logprobs: agreement on the most confident share of the rows
        levels = " / ".join(percent(level["agreement"]) for level in coverage["levels"])
        kept = " / ".join(f"{level['kept']:.0%}" for level in coverage["levels"])
        lines.append((f"agreement at {kept} kept %", levels))
    return summary_table(lines)
