"""The run's log: the engines' output goes there, the person's lines to the terminal."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from judgelm_ray import console, runlog


def test_everything_the_process_and_its_children_write_goes_to_the_log(tmp_path, capfd):
    with runlog.captured(str(tmp_path / "out"), "run") as log:
        os.write(1, b"written to fd 1, as C++ code writes\n")
        os.write(2, b"written to fd 2\n")
        print("printed by Python")
        subprocess.run(["echo", "from a child process"], check=True)
        console.say("for the person")
    shown = capfd.readouterr()
    assert shown.out == "for the person\n" and shown.err == ""
    assert log.startswith(str(tmp_path / "out" / "logs" / "run-")) and log.endswith(".log")
    text = open(log).read()
    for line in ("written to fd 1", "written to fd 2", "printed by Python", "from a child process"):
        assert line in text
    assert "for the person" not in text


def test_an_error_leaves_its_traceback_in_the_log_and_the_terminal_restored(tmp_path, capfd):
    with pytest.raises(ZeroDivisionError):
        with runlog.captured(str(tmp_path), "run") as log:
            1 / 0
    print("after")
    assert capfd.readouterr().out == "after\n"
    assert "Traceback" in open(log).read() and "ZeroDivisionError" in open(log).read()


def test_verbose_leaves_the_output_where_it_is(tmp_path, capfd):
    with runlog.captured(str(tmp_path), "run", verbose=True) as log:
        print("shown")
    assert log is None and capfd.readouterr().out == "shown\n"
    assert not (tmp_path / "logs").exists()


def wrapped(error: BaseException) -> BaseException:
    """`error` inside two wrappers, the way Ray Data's UserCodeException and RayTaskError hold it."""
    try:
        try:
            raise error
        except BaseException as inner:
            raise RuntimeError("UDF failed to process a data block.") from inner
    except RuntimeError as outer:
        return outer


def test_a_full_disk_or_a_bad_path_is_one_line_and_a_bug_is_not_mistaken_for_one():
    full = wrapped(OSError(errno.ENOSPC, "No space left on device", "/data/out/part-1.parquet"))
    assert runlog.user_error(full) == ("disk full writing /data/out/part-1.parquet: No space left on device; "
                                       "free some space, or set output to another disk")
    missing = wrapped(FileNotFoundError("judge.model: /models/x does not exist\n(details)"))
    assert runlog.user_error(missing) == "judge.model: /models/x does not exist"
    assert runlog.user_error(wrapped(KeyError("requests"))) is None
    assert isinstance(runlog.root_cause(wrapped(KeyError("requests"))), KeyError)
