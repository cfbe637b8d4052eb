"""Causing a real write failure: a child process whose files may not grow past a size limit.

RLIMIT_FSIZE makes `write` fail with EFBIG part way, as a full disk fails with ENOSPC (SIGXFSZ,
which would kill the process, is ignored), so the code under test meets a genuine OSError.
"""

from __future__ import annotations

import subprocess
import sys

_FAILED = 3  # the child's exit status when the write raised OSError


def write_fails_past(limit_bytes: int, setup: str, write: str) -> bool:
    """Run `setup`, then `write` with files limited to `limit_bytes`; True when the write raised OSError."""
    script = (
        f"import resource, signal, sys\n{setup}\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}))\n"
        f"try:\n    {write}\nexcept OSError:\n    sys.exit({_FAILED})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode in (0, _FAILED), result.stderr
    return result.returncode == _FAILED
