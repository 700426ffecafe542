"""server.blas_threads: the engines cap numpy's BLAS threads for the process while they are open
and give the library its own count back when closed (gateway/engines.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import threadpoolctl

from gateway.engines import Engines
from tests.conftest import make_settings


def blas_threads() -> int:
    assert np.ones((4, 4)) @ np.ones((4, 4)) is not None  # numpy's BLAS is loaded
    counts = {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}
    assert len(counts) == 1, counts
    return counts.pop()


def with_blas(tmp: Path, threads: int) -> Engines:
    settings = make_settings(tmp)
    return Engines(dataclasses.replace(settings, server=dataclasses.replace(settings.server,
                                                                            blas_threads=threads)))


def test_engines_cap_blas_threads_and_restore_them(tmp_path: Path) -> None:
    before = blas_threads()
    wanted = 1 if before != 1 else 2  # a count that differs from the library's, on any machine
    engines = with_blas(tmp_path, wanted)
    try:
        assert blas_threads() == wanted
    finally:
        engines.close()
    assert blas_threads() == before


def test_zero_leaves_blas_alone(tmp_path: Path) -> None:
    before = blas_threads()
    engines = with_blas(tmp_path, 0)
    try:
        assert blas_threads() == before
    finally:
        engines.close()
