"""A worker process keeps freed memory for its next forward pass (glibc), instead of faulting it in again."""

from __future__ import annotations

import platform
import subprocess
import sys


def test_allocator_is_tuned_where_glibc_allows() -> None:
    # in a child: the tuning is process-wide and would follow every later test of this process
    code = "from workers.process import tune_allocator; print(tune_allocator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert out.stdout.strip() == str(glibc)
