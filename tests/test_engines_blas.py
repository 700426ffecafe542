"""server.blas_threads: the engines cap numpy's BLAS threads for the process while they are open
and give the library its own count back when closed (gateway/engines.py).

Checked in a fresh process: OpenBLAS cannot go above the thread count it started with, and in
this one an earlier test's engines (still open) may have set it already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

PROBE = """
import dataclasses, json, sys
from pathlib import Path
import numpy as np
import threadpoolctl
from gateway.engines import Engines
from tests.conftest import make_settings

def blas_threads():
    assert np.ones((4, 4)) @ np.ones((4, 4)) is not None  # numpy's BLAS is loaded
    counts = {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    assert len(counts) == 1, counts
    return counts.pop()

settings = make_settings(Path(sys.argv[1]))
before = blas_threads()
engines = Engines(dataclasses.replace(settings, server=dataclasses.replace(
    settings.server, blas_threads=int(sys.argv[2]))))
during = blas_threads()
engines.close()
print(json.dumps([before, during, blas_threads()]))
"""


def counts(tmp: Path, threads: int) -> list[int]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp), str(threads)], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_engines_cap_blas_threads_and_restore_them(tmp_path: Path) -> None:
    before, during, after = counts(tmp_path, 1)
    if before < 2:
        pytest.skip("OpenBLAS starts with one thread on this machine (one core): a cap of 1 changes nothing")
    assert (during, after) == (1, before)


def test_zero_leaves_blas_alone(tmp_path: Path) -> None:
    before, during, after = counts(tmp_path, 0)
    assert during == before == after
