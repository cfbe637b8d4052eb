"""What a person sees while a run goes on: progress lines, notices, and nothing when nothing moves."""

from __future__ import annotations

import io
import time

import pytest

from judgelm_ray import console


@pytest.fixture
def terminal(monkeypatch):
    stream = io.StringIO()  # not a TTY: progress comes as lines
    console.set_terminal(stream)
    yield stream
    console.set_terminal(None)


def test_progress_text_shows_done_of_total_rate_eta_and_the_section_counts():
    text = console.progress_text(1234, 10000, "rows", 56.7, {"quarantined": 3, "loss": 0.12345})
    assert text == "1,234/10,000 rows  56.7 rows/s  ETA 2:35  quarantined 3  loss 0.1235"
    assert console.progress_text(5, None, "rows", None, {}) == "5 rows"  # total not known yet, nothing done yet
    assert "ETA" not in console.progress_text(10, 10, "rows", 2.0, {}, eta=False)


def test_duration_reads_as_a_clock():
    assert [console.duration(s) for s in (None, 5, 65, 3725)] == ["-", "0:05", "1:05", "1:02:05"]


def test_a_display_off_a_terminal_prints_a_line_every_interval_and_a_final_one(terminal, monkeypatch):
    monkeypatch.setattr(console, "LINE_EVERY", 0.2)
    counts = {"judged": 0, "quarantined": 1}
    events = ["12:00:00 a judge actor was restarted"]

    def read():
        counts["judged"] += 1
        return dict(counts), [events.pop()] if events else []

    display = console.ProgressDisplay("judge smoke", "rows", read, ("judged", "quarantined"),
                                      extras={"quarantined": "quarantined"}, total=100, start=10)
    with display:
        time.sleep(1.3)
    lines = terminal.getvalue().splitlines()
    assert lines[0] == "! 12:00:00 a judge actor was restarted"
    assert 2 <= len(lines) <= 6, lines  # a line per 0.2 s of the ~0.5 s updates, not one per update
    assert all(line.startswith("judge smoke: ") for line in lines[1:])
    last = lines[-1]
    assert f"{10 + 1 + counts['judged']}/100 rows" in last and "quarantined 1" in last
    assert "ETA" not in last and last.endswith(")")  # the final line says how long it took instead


def test_a_section_that_learns_its_total_while_it_runs(terminal):
    display = console.ProgressDisplay("train demo", "steps", lambda: ({"steps": 3, "total": 8}, []), ("steps",))
    with display:
        pass
    assert "3/8 steps" in terminal.getvalue()


def test_notice_is_one_line_with_the_time(terminal):
    console.notice("Ray node 10.0.0.3 lost")
    (line,) = terminal.getvalue().splitlines()
    assert line.startswith("! ") and line.endswith(" Ray node 10.0.0.3 lost") and line[2:10].count(":") == 2


def test_the_engine_line_says_what_ran_and_leaves_out_what_the_engine_has_not():
    vllm = {"engine": "AsyncLLM", "concurrent_batches": 4, "max_num_seqs": 1024, "max_num_batched_tokens": 16384,
            "kv_cache_dtype": "fp8", "quantization": None, "enable_prefix_caching": True}
    assert console.engine_line(vllm) == ("AsyncLLM, 4 batches in flight, max_num_seqs 1024, max_num_batched_tokens "
                                         "16384, kv_cache_dtype fp8, prefix caching on")
    assert console.engine_line({"engine": "transformers generate", "max_num_seqs": 16}) == (
        "transformers generate, 1 batch in flight, max_num_seqs 16")
