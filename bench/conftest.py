"""Shared benchmark machinery: the machine's limits, thread counts, and a summary table.

Every benchmark records one row per implementation through the `report` fixture: its best
time, its rate (GFLOP/s, GB/s, samples/s, ...), and optionally the rate this machine could
reach at best (its roofline). At the end of the run, one table per group prints the rates
side by side with the ratio to the group's baseline implementation and the fraction of the
roofline reached.

Run with: python -m pytest bench --benchmark-only
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

import optkern


@dataclass
class Machine:
    """Limits measured at the start of the run (the best of a few tries)."""

    threads: int
    read_gbs: float  # streaming read bandwidth with all threads, GB/s
    gemm_gflops: dict = field(default_factory=dict)  # numpy/BLAS n=2048 GEMM, by dtype name
    l3_bytes: int = 32 << 20
    gpu: dict | None = None  # name, read_gbs, gemm_gflops, when a CUDA device is visible

    def matmul_roofline(self, n: int, batch: int, dtype, gpu: bool = False) -> float:
        """Best possible GFLOP/s for `batch` products of n x n: the GEMM peak, or the memory
        bound 2n^3 / (3 n^2 itemsize) * bandwidth when the operands do not fit in cache."""
        itemsize = np.dtype(dtype).itemsize
        limits = self.gpu if gpu else {"read_gbs": self.read_gbs, "gemm_gflops": self.gemm_gflops}
        peak = limits["gemm_gflops"][np.dtype(dtype).name]
        footprint = 3 * batch * n * n * itemsize
        if gpu or footprint > self.l3_bytes:
            intensity = 2 * n / (3 * itemsize)  # FLOP per byte moved
            return min(peak, intensity * limits["read_gbs"])
        return peak


def _best(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _read_bandwidth() -> float:
    """Streaming read bandwidth: a BLAS dot product of two 128 MB vectors (threaded by BLAS,
    two loads per multiply-add, so it is bound by memory, not arithmetic)."""
    x = np.ones(16 << 20)
    y = np.ones(16 << 20)
    return 2 * x.nbytes / _best(lambda: x @ y, 5) / 1e9


def _gpu_limits() -> dict | None:
    if not optkern.cuda_available():
        return None
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    src = torch.empty(1 << 28, dtype=torch.float32, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)

    def copy():
        dst.copy_(src)
        torch.cuda.synchronize()

    read_gbs = 2 * src.numel() * 4 / _best(copy, 5) / 1e9  # a copy reads and writes
    gemm = {}
    for dtype in (torch.float32, torch.float64):
        a = torch.randn(8192, 8192, dtype=dtype, device="cuda")

        def mm(a=a):
            torch.mm(a, a)
            torch.cuda.synchronize()

        mm()
        gemm[str(dtype).replace("torch.", "")] = 2 * 8192**3 / _best(mm) / 1e9
        del a
    name = torch.cuda.get_device_name()
    del src, dst
    torch.cuda.empty_cache()
    return {"name": name, "read_gbs": read_gbs, "gemm_gflops": gemm}


def _l3_bytes() -> int:
    """The last-level cache size from sysfs (32 MiB if it cannot be read)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
        return int(text.rstrip("KMG")) << {"K": 10, "M": 20, "G": 30}.get(text[-1], 0)
    except (OSError, ValueError):
        return 32 << 20


@pytest.fixture(scope="session")
def machine() -> Machine:
    threads = optkern.get_num_threads()
    gemm = {}
    for dtype in (np.float32, np.float64):
        a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(dtype)
        a @ a
        gemm[np.dtype(dtype).name] = 2 * 2048**3 / _best(lambda a=a: a @ a) / 1e9
    return Machine(
        threads=threads,
        read_gbs=_read_bandwidth(),
        gemm_gflops=gemm,
        l3_bytes=_l3_bytes(),
        gpu=_gpu_limits(),
    )


_RESULTS: list[dict] = []
_MACHINE: list[Machine] = []


@pytest.fixture
def report(benchmark, machine):
    """report(group, impl, work, unit, limit=None, baseline=None): record the benchmark just
    run. `work` is the amount of work per call in `unit` (e.g. GFLOP for "GFLOP/s"),
    `limit` the roofline rate, `baseline` the implementation the group is compared to."""
    if not _MACHINE:
        _MACHINE.append(machine)

    def record(group, impl, work, unit, limit=None, baseline=None, note="", seconds=None):
        # seconds: a time measured by the benchmark itself (peers timed in the same rounds)
        if seconds is None:
            if benchmark.stats is None:  # --benchmark-disable ran the code once, untimed
                return
            seconds = benchmark.stats.stats.min
        _RESULTS.append(
            dict(group=group, impl=impl, seconds=seconds, rate=work / seconds, unit=unit,
                 limit=limit, baseline=baseline, note=note)
        )

    return record


def thread_settings() -> str:
    parts = [f"optkern {optkern.get_num_threads()} threads"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            parts.append(f"{pool['internal_api']} {pool['num_threads']} threads")
    except ImportError:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(var):
                parts.append(f"{var}={os.environ[var]}")
    torch = _torch()
    if torch is not None:
        parts.append(f"torch {torch.get_num_threads()} threads")
    return ", ".join(parts)


@functools.cache
def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def pytest_report_header(config):
    info = optkern.build_info()
    return [
        f"optkern {info['version']} ({info['compiler']}, SIMD {info['simd']} "
        f"({'/'.join(info['simd_flags'])}; compiled: {', '.join(info['simd_compiled'])}), "
        f"CUDA devices: {[d['name'] for d in info['cuda_devices']] or 'none'})",
        f"threads: {thread_settings()}",
    ]


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    write = terminalreporter.write_line
    m = _MACHINE[0] if _MACHINE else None
    terminalreporter.section("optkern: rates, ratios and fraction of the machine's limit")
    write(f"threads: {thread_settings()}")
    if m is not None:
        gemm = ", ".join(f"{k} {v:.0f}" for k, v in m.gemm_gflops.items())
        write(f"CPU limits: read {m.read_gbs:.1f} GB/s, BLAS GEMM n=2048 {gemm} GFLOP/s")
        if m.gpu:
            gemm = ", ".join(f"{k} {v:.0f}" for k, v in m.gpu["gemm_gflops"].items())
            write(f"GPU {m.gpu['name']}: copy {m.gpu['read_gbs']:.0f} GB/s, "
                  f"cuBLAS n=8192 {gemm} GFLOP/s")
    groups: dict[str, list[dict]] = {}
    for row in _RESULTS:
        groups.setdefault(row["group"], []).append(row)
    for group, rows in groups.items():
        write("")
        write(group)
        base = {r["impl"]: r for r in rows}
        for r in rows:
            baseline = base.get(r["baseline"]) if r["baseline"] else None
            ratio = f"{baseline['seconds'] / r['seconds']:6.2f}x {r['baseline']}" if baseline \
                else ""
            frac = f"{r['rate'] / r['limit']:6.1%} of limit" if r["limit"] else ""
            write(f"  {r['impl']:<16} {r['seconds'] * 1e3:11.3f} ms {r['rate']:11.2f} "
                  f"{r['unit']:<10} {ratio:<22} {frac} {r['note']}")
