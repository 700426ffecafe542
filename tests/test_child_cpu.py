"""ChildCpu (gateway/cli/processes.py): the CPU of benchmark children counts after they end.
`gateway bench pipecat` read only live bots, so bots that ended during the run took their CPU
with them and the figure went negative (-11.1% at 16 bots)."""

from __future__ import annotations

import subprocess
import sys
import time

from gateway.cli.processes import ChildCpu

BURN = "import time\nwhile time.process_time() < 0.3: pass\n"  # 0.3 s of CPU, then exit


def test_children_that_ended_keep_their_cpu() -> None:
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    cpu = ChildCpu(procs)
    deadline = time.monotonic() + 60
    while any(cpu.alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(cpu.alive(p) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert cpu.seconds() >= 0.55  # 2 x 0.3 s burnt, less the clock's 10 ms ticks


def test_a_running_child_is_read_from_proc() -> None:
    proc = subprocess.Popen([sys.executable, "-c", BURN + "time.sleep(30)\n"])
    cpu = ChildCpu([proc])
    try:
        deadline = time.monotonic() + 60
        while cpu.seconds() < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu.alive(proc) and cpu.seconds() >= 0.25
    finally:
        proc.kill()
        proc.wait()
