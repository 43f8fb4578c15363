"""What the Sinkhorn benchmarks and figures compare optkern with: POT, unrolled automatic
differentiation in torch, a torch-on-GPU Sinkhorn, and the dense KKT solve; plus the peak-memory
measurement (in a fresh process, so that C++ and torch allocations count too).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent / "tests"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))  # after bench/, whose conftest.py is the one imported here

from conftest import _best as best_time  # noqa: E402  (bench/conftest.py: best wall time)
from reference.sinkhorn import kkt_vjp_dense, point_cloud_cost  # noqa: E402

__all__ = ["kkt_vjp_dense", "point_cloud_cost", "torch_unrolled_grad", "torch_gpu_plain",
           "peak_memory_mb", "best_time"]


def torch_unrolled_grad(M: np.ndarray, reg: float, n_iter: int, W: np.ndarray | None,
                        domain: str = "log", target: np.ndarray | None = None):
    """dL/dM by automatic differentiation through n_iter Sinkhorn iterations (uniform
    marginals), for L = <W, P> or, with `target`, L = 1/2 |P - target|^2, as a torch user
    would write it: "log" (stable; every iteration's log-sum-exp keeps an m x n matrix for the
    backward) or "kernel" (K = exp(-M/reg), scalings u, v; only vectors per iteration)."""
    import torch

    Mt = torch.tensor(M, requires_grad=True)
    m, n = M.shape
    log_a = torch.full((m,), -np.log(m), dtype=Mt.dtype)
    log_b = torch.full((n,), -np.log(n), dtype=Mt.dtype)
    if domain == "log":
        g = torch.zeros(n, dtype=Mt.dtype)
        for _ in range(n_iter):
            f = reg * (log_a - torch.logsumexp((g[None, :] - Mt) / reg, dim=1))
            g = reg * (log_b - torch.logsumexp((f[:, None] - Mt) / reg, dim=0))
        P = torch.exp((f[:, None] + g[None, :] - Mt) / reg)
    else:
        K = torch.exp(-Mt / reg)
        v = torch.ones(n, dtype=Mt.dtype)
        for _ in range(n_iter):
            u = log_a.exp() / (K @ v)
            v = log_b.exp() / (K.T @ u)
        P = u[:, None] * K * v[None, :]
    if target is not None:
        loss = 0.5 * ((P - torch.tensor(target)) ** 2).sum()
    else:
        loss = (torch.tensor(W) * P).sum()
    loss.backward()
    return Mt.grad.numpy()


def torch_gpu_plain(M, reg: float, n_iter: int):
    """Kernel-domain Sinkhorn on a torch CUDA tensor: two matrix-vector products (two passes
    over K) per iteration, the usual GPU implementation."""
    import torch

    K = torch.exp(-M / reg)
    m, n = K.shape
    a = torch.full((m,), 1.0 / m, dtype=K.dtype, device=K.device)
    b = torch.full((n,), 1.0 / n, dtype=K.dtype, device=K.device)
    v = torch.ones_like(b)
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    P = u[:, None] * K * v[None, :]
    torch.cuda.synchronize()
    return P


def peak_memory_mb(setup: str, call: str) -> float:
    """Peak resident memory added by `call` (Python source) after `setup` (one line), in MB,
    measured in a fresh interpreter so that native (C++, torch) allocations count: the peak
    is reset after the setup (Linux /proc/self/clear_refs) and read from VmHWM after the call."""
    code = textwrap.dedent(f"""
        import json, resource, sys
        sys.path[:0] = [{str(BENCH)!r}, {str(BENCH / "figures")!r}]
        from sinkhorn_peers import *
        import numpy as np
        import optkern
        {setup}
        def status(key):
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current resident size
        before = status("VmRSS")
        {call}
        print(json.dumps(status("VmHWM") - before))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))
