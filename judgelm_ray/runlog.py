"""The run's log: everything the engines print goes to `<output>/logs/`, not to the terminal.

Ray, vLLM, DeepSpeed and transformers write to stdout and stderr from C++ and Python, in this
process and (forwarded by Ray) in every worker. Redirecting the process's file descriptors 1 and
2 to the log catches all of it; the terminal is kept aside for `console`, which shows progress,
notices and summaries. With `verbose`, nothing is redirected. An s3:// output gets the log
uploaded when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator

from judgelm_ray import console, storage


def log_name(command: str) -> str:
    return f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


@contextlib.contextmanager
def captured(output: str, command: str, verbose: bool = False) -> Iterator[str | None]:
    """Send this process's output to `<output>/logs/<command>-<time>.log`; yields the log's path
    (None with `verbose`). An exception leaving the block has its traceback written to the log."""
    if verbose:
        yield None
        return
    target = storage.join(output, "logs", log_name(command))
    local = target
    if storage.is_remote(output):
        local = os.path.join(tempfile.mkdtemp(prefix="judgelm-ray-log-"), os.path.basename(target))
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    log = open(local, "a", buffering=1)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    # Python's own streams onto the new descriptors too, should something have replaced them.
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (open(fd, "w", buffering=1, closefd=False) for fd in (1, 2))
    console.set_terminal(terminal)
    try:
        yield target
    except BaseException:
        traceback.print_exc(file=log)
        raise
    finally:
        _shutdown_ray()  # before the terminal is back: Ray's last words belong in the log
        ours = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = streams
        for stream in ours:
            stream.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        console.set_terminal(None)
        terminal.close()
        log.close()
        if local != target:
            _upload(local, target)


def _upload(local: str, target: str) -> None:
    """The log of an s3:// output goes there at the end; where that fails, it stays on this disk."""
    try:
        storage.upload_folder(os.path.dirname(local), os.path.dirname(target))
    except OSError as error:
        console.notice(f"the log could not be uploaded to {target} ({one_line(error)}); it is at {local}")
        return
    shutil.rmtree(os.path.dirname(local), ignore_errors=True)


def _shutdown_ray() -> None:
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()


# Errors a person fixes (a path, a value, an address, room on a disk): one line, no traceback.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError, ConnectionError)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def root_cause(error: BaseException) -> BaseException:
    """The error a task raised, out of the wrappers Ray and Ray Data put around it."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def user_error(error: BaseException) -> str | None:
    """The one line to show for an error the user can fix, or None for anything else (a bug)."""
    cause = root_cause(error)
    if isinstance(cause, OSError) and (cause.errno in NO_SPACE or "No space left" in str(cause)):
        where = f" writing {cause.filename}" if cause.filename else ""
        return f"disk full{where}: {cause.strerror or one_line(cause)}; free some space, or set output to another disk"
    if isinstance(cause, USER_ERRORS):
        return one_line(cause)
    return None
