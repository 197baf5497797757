"""Timing statistics, interleaved timing and the CPU load of other processes."""

import subprocess
import sys
import time

import pytest
import torch

from bench import timing
from bench.timing import BUSY_SHARE, CpuLoad, summary, time_interleaved


def test_summary():
    assert summary([3.0, 1.0, 2.0, 10.0]) == {"min": 1.0, "median": 2.5, "max": 10.0, "runs": 4}
    with pytest.raises(ValueError):
        summary([])


def test_calls_are_interleaved_after_one_warm_up_each():
    order = []
    times = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3)
    assert order == ["a", "b"] + ["a", "b"] * 3
    assert {name: len(t) for name, t in times.items()} == {"a": 3, "b": 3}


def test_load_arithmetic(monkeypatch):
    """Machine busy time minus this process's own CPU time, over the wall time."""
    machine = iter([(100.0, 4), (106.0, 4)])  # 6 CPU seconds busy in the block
    own = iter([10.0, 12.0])  # 2 of them ours
    clock = iter([50.0, 52.0])  # over 2 seconds
    monkeypatch.setattr(timing, "_busy_seconds_and_cpus", lambda: next(machine))
    monkeypatch.setattr(timing, "_own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    with CpuLoad() as load:
        pass
    assert (load.others_cores, load.cpus, load.others_share) == (2.0, 4, 0.5)
    assert load.busy and "WARNING" in load.report()
    assert "2.00 of 4 CPUs (50%)" in load.report()


def test_quiet_machine_has_no_warning(monkeypatch):
    machine = iter([(100.0, 2), (100.1, 2)])
    own = iter([0.0, 0.1])
    monkeypatch.setattr(timing, "_busy_seconds_and_cpus", lambda: next(machine))
    monkeypatch.setattr(timing, "_own_cpu_seconds", lambda: next(own))
    with CpuLoad() as load:
        time.sleep(0.05)
    assert load.others_cores == pytest.approx(0.0, abs=1e-9) and not load.busy
    assert "WARNING" not in load.report()


def test_unknown_without_proc_stat(monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "PROC_STAT", tmp_path / "none")
    with CpuLoad() as load:
        pass
    assert load.others_cores is None and not load.busy
    assert "unknown" in load.report()


@pytest.mark.skipif(not timing.PROC_STAT.is_file(), reason="needs /proc/stat (Linux)")
def test_another_process_spinning_is_seen():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        with CpuLoad() as load:
            time.sleep(1.5)
    finally:
        spinner.kill()
        spinner.wait()
    # the spinner takes up to one CPU (less when the shared machine is full)
    assert load.others_cores > 0.3
    assert load.busy == (load.others_share > BUSY_SHARE)


def test_machine_line_names_the_processor_its_bf16_instructions_and_pytorch(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n")
    monkeypatch.setattr(timing, "CPU_INFO", cpuinfo)
    monkeypatch.setattr("torch.cpu._is_amx_tile_supported", lambda: False)
    monkeypatch.setattr("torch.cpu._is_avx512_bf16_supported", lambda: True)
    line = timing.machine_line()
    assert line.startswith("machine: AMD EPYC 9R14, ")
    assert "bfloat16 in hardware: AVX512-BF16;" in line
    assert f"PyTorch {torch.__version__}" in line

    cpuinfo.unlink()  # no /proc/cpuinfo (macOS, Windows): the platform's name or unknown
    monkeypatch.setattr("torch.cpu._is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr("platform.processor", lambda: "")
    assert timing.machine_line().startswith("machine: unknown CPU, ")
    assert "bfloat16 in hardware: none;" in timing.machine_line()
