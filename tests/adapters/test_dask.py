"""Dask arrays on a real dask.distributed cluster: every batched function, lazily, matching
the NumPy call on the same data (optkern/_dask.py)."""

import logging
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import optkern

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from conftest import CONVERGED, PRODUCT  # noqa: E402
from dask.array.core import PerformanceWarning  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """One LocalCluster for the module: 2 worker processes, 1 thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def uneven(n, parts):
    """Chunk sizes summing to n, of unequal sizes, with one empty chunk."""
    cuts = np.linspace(0, n, parts + 1).astype(int)
    sizes = list(np.diff(cuts))
    sizes[0] += 1
    sizes[-1] -= 1
    return tuple(sizes[:1] + [0] + sizes[1:])


def close(actual, expected, dtype=np.float64):
    np.testing.assert_allclose(actual, expected, rtol=PRODUCT[dtype], atol=PRODUCT[dtype] / 10)


def test_import_optkern_does_not_import_dask():
    code = ("import sys, optkern, numpy as np; optkern.tv.denoise(np.ones(3), 0.1); "
            "print(any(m == 'dask' or m.startswith('dask.') or m == 'distributed' "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_results_are_lazy(client):
    def boom(block):
        raise AssertionError("computed while the graph was built")

    x = da.zeros((6, 5), chunks=(3, 5)).map_blocks(boom, dtype=np.float64)
    y = optkern.tv.denoise(x, 0.5)
    res = optkern.ot.sinkhorn(x.reshape(2, 3, 5), reg=0.1)
    assert isinstance(y, da.Array)
    assert isinstance(res.plan, da.Array)
    assert isinstance(res.cost, da.Array)
    assert y.shape == (6, 5)
    assert y.dtype == np.float64


def test_bmm_uneven_chunks_and_broadcast(client, dtype, rng):
    a = rng.standard_normal((9, 3, 4)).astype(dtype)
    b = rng.standard_normal((4, 2)).astype(dtype)
    out = optkern.linalg.bmm(da.from_array(a, chunks=(uneven(9, 3), 3, 4)), b)
    assert out.dtype == dtype
    assert out.chunks[0] == uneven(9, 3)
    close(out.compute(), optkern.linalg.bmm(a, b), dtype)
    # two chunked operands with different batch chunks, broadcast batch dims
    a2 = rng.standard_normal((5, 1, 3, 4))
    b2 = rng.standard_normal((6, 4, 2))
    out = optkern.linalg.bmm(da.from_array(a2, chunks=(2, 1, 3, 4)),
                             da.from_array(b2, chunks=(4, 4, 2)))
    close(out.compute(), a2 @ b2)


def test_tridiagonal_solve(client, dtype, rng):
    n = 7
    lower = -rng.random((10, n - 1)).astype(dtype)
    diag = (3 + rng.random((10, n))).astype(dtype)
    upper = -rng.random(n - 1).astype(dtype)  # shared by every system
    rhs = rng.standard_normal((10, n)).astype(dtype)
    out = optkern.linalg.tridiagonal_solve(da.from_array(lower, chunks=(4, n - 1)), diag,
                                           upper, da.from_array(rhs, chunks=(uneven(10, 2), n)))
    close(out.compute(), optkern.linalg.tridiagonal_solve(lower, diag, upper, rhs), dtype)


def test_tv_denoise_per_signal_lam_chunked_differently(client, dtype, rng):
    x = rng.standard_normal((3, 11, 40)).astype(dtype)
    lam = rng.random((3, 11)) * 2
    xd = da.from_array(x, chunks=(2, uneven(11, 3), 40))
    lamd = da.from_array(lam, chunks=(1, 5))  # other chunks than x: rechunked to match
    y = optkern.tv.denoise(xd, lamd)
    assert y.chunks == xd.chunks
    assert y.dtype == dtype
    close(y.compute(), optkern.tv.denoise(x, lam), dtype)
    # lam in the keepdims form (..., 1), as a NumPy array, and lam broadcast over an axis
    close(optkern.tv.denoise(xd, lam[..., None]).compute(), optkern.tv.denoise(x, lam), dtype)
    close(optkern.tv.denoise(xd, lam[:1]).compute(), optkern.tv.denoise(x, lam[:1]), dtype)


def test_tv_denoise_weighted_and_2d(client, dtype, rng):
    # one weight per edge, as a NumPy array and as a dask array chunked like x's batch
    x = rng.standard_normal((7, 30)).astype(dtype)
    w = rng.random((7, 29))
    xd = da.from_array(x, chunks=(uneven(7, 3), 30))
    close(optkern.tv.denoise(xd, w).compute(), optkern.tv.denoise(x, w), dtype)
    close(optkern.tv.denoise(xd, da.from_array(w, chunks=(4, 29))).compute(),
          optkern.tv.denoise(x, w), dtype)
    # images, one lam per image, and the info (per-image gap and iterations) lazily too
    img = rng.standard_normal((5, 12, 10)).astype(dtype)
    lam = rng.random(5) * 0.5
    imgd = da.from_array(img, chunks=(uneven(5, 2), 12, 10))
    close(optkern.tv.denoise_2d(imgd, lam).compute(), optkern.tv.denoise_2d(img, lam), dtype)
    info = optkern.tv.denoise_2d(imgd, 0.2, return_info=True)
    assert isinstance(info.y, da.Array) and isinstance(info.gap, da.Array)
    want = optkern.tv.denoise_2d(img, 0.2, return_info=True)
    close(info.y.compute(), want.y, dtype)
    np.testing.assert_array_equal(info.nit.compute(), want.nit)


def test_ot_unbalanced_and_divergence(client, dtype, rng):
    M = rng.random((5, 4, 6)).astype(dtype)
    b = rng.random(6).astype(dtype)
    Md = da.from_array(M, chunks=(uneven(5, 2), 4, 6))
    res = optkern.ot.sinkhorn_unbalanced(Md, None, b, reg=0.1, reg_m=(1.0, 2.0))
    ref = optkern.ot.sinkhorn_unbalanced(M, None, b, reg=0.1, reg_m=(1.0, 2.0))
    assert isinstance(res.plan, da.Array)
    close(res.plan.compute(), ref.plan, dtype)
    close(res.value.compute(), ref.value, dtype)
    np.testing.assert_array_equal(res.method.compute(), ref.method)
    x = rng.random((5, 6, 2)).astype(dtype)
    y = rng.random((7, 2)).astype(dtype)
    s = optkern.ot.sinkhorn_divergence(da.from_array(x, chunks=(2, 6, 2)), y, reg=0.2)
    assert isinstance(s, da.Array)
    close(s.compute(), optkern.ot.sinkhorn_divergence(x, y, reg=0.2), dtype)


def test_tv_lambda_max(client, rng):
    x = rng.standard_normal((5, 3, 20))
    got = optkern.tv.lambda_max(da.from_array(x, chunks=(uneven(5, 2), 2, 20)))
    np.testing.assert_allclose(got.compute(), optkern.tv.lambda_max(x), rtol=1e-14)
    single = optkern.tv.lambda_max(da.from_array(x[0, 0], chunks=7))  # a split core axis
    assert single.shape == ()
    np.testing.assert_allclose(single.compute(), optkern.tv.lambda_max(x[0, 0]), rtol=1e-14)


def test_tv_denoise_info_irls(client, rng):
    x = rng.standard_normal((8, 30))
    info = optkern.tv.denoise(da.from_array(x, chunks=(3, 30)), 0.3, method="irls", tol=1e-8,
                              return_info=True)
    ref = optkern.tv.denoise(x, 0.3, method="irls", tol=1e-8, return_info=True)
    assert info.method == "irls"
    assert isinstance(info.nit, da.Array)
    y, nit, change, converged = dask.compute(info.y, info.nit, info.change, info.converged)
    close(y, ref.y)
    np.testing.assert_array_equal(nit, ref.nit)
    np.testing.assert_array_equal(converged, ref.converged)
    close(change, ref.change)


@pytest.mark.parametrize("lam_kind", ["scalar", "per_signal", "broadcast", "keepdims"])
def test_tv_denoise_vjp(client, rng, lam_kind):
    x = rng.standard_normal((4, 6, 25))
    lam = {"scalar": 0.4, "per_signal": rng.random((4, 6)), "broadcast": rng.random((1, 6)),
           "keepdims": rng.random((4, 6, 1))}[lam_kind]
    y = optkern.tv.denoise(x, lam)
    g = rng.standard_normal(x.shape)
    lam_in = lam if np.ndim(lam) == 0 else da.from_array(lam, chunks=1)
    grad_x, grad_lam = optkern.tv.denoise_vjp(da.from_array(y, chunks=(3, 4, 25)), g, lam_in)
    ref_x, ref_lam = optkern.tv.denoise_vjp(y, g, lam)
    assert grad_lam.shape == np.shape(ref_lam)
    close(grad_x.compute(), ref_x)
    np.testing.assert_allclose(grad_lam.compute(), ref_lam, rtol=1e-10, atol=1e-12)


def test_sinkhorn_per_problem_marginals_and_warm_start(client, dtype, rng):
    M = rng.random((7, 5, 6)).astype(dtype)
    a = rng.random((7, 5)) + 0.1
    a /= a.sum(-1, keepdims=True)
    b = np.full(6, 1 / 6)  # shared by the batch
    Md = da.from_array(M, chunks=(uneven(7, 2), 5, 6))
    res = optkern.ot.sinkhorn(Md, da.from_array(a, chunks=(3, 5)), b, reg=0.1)
    ref = optkern.ot.sinkhorn(M, a, b, reg=0.1)
    for field in ("plan", "f", "g", "cost", "value", "marginal_error"):
        assert isinstance(getattr(res, field), da.Array)
        np.testing.assert_allclose(getattr(res, field).compute(), getattr(ref, field),
                                   rtol=CONVERGED[dtype], atol=1e-8)
    for field in ("n_iter", "converged", "method"):
        np.testing.assert_array_equal(getattr(res, field).compute(), getattr(ref, field))
    warm = optkern.ot.sinkhorn(Md, a, b, reg=0.1, init=(res.f, None), max_iter=10)
    ref_warm = optkern.ot.sinkhorn(M, a, b, reg=0.1, init=(ref.f, None), max_iter=10)
    np.testing.assert_array_equal(warm.n_iter.compute(), ref_warm.n_iter)


def test_sinkhorn_single_problem_and_cost(client, rng):
    M = rng.random((5, 6))
    res = optkern.ot.sinkhorn(da.from_array(M, chunks=(2, 3)), reg=0.05)  # core split
    ref = optkern.ot.sinkhorn(M, reg=0.05)
    assert res.cost.shape == ()
    assert res.method.compute() == ref.method
    close(res.plan.compute(), ref.plan)
    Ms = rng.random((4, 5, 6))
    value, (gM, ga, gb) = optkern.ot.sinkhorn_cost(da.from_array(Ms, chunks=(3, 5, 6)),
                                                   reg=0.05, return_grad=True)
    ref_value, ref_grads = optkern.ot.sinkhorn_cost(Ms, reg=0.05, return_grad=True)
    got = dask.compute(value, gM, ga, gb)
    for g, r in zip(got, (ref_value,) + ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def test_sinkhorn_vjp_sums_over_broadcast_marginals(client, rng):
    M = rng.random((6, 4, 5))
    a = np.full(4, 0.25)  # shared: grad_a is summed over the batch
    b = rng.random((6, 5)) + 0.1
    b /= b.sum(-1, keepdims=True)
    P = optkern.ot.sinkhorn(M, a, b, reg=0.2, tol=1e-13).plan
    grad_P = rng.standard_normal((6, 4, 5))
    got = optkern.ot.sinkhorn_vjp(da.from_array(P, chunks=(uneven(6, 2), 4, 5)), grad_P, 0.2,
                                  a, da.from_array(b, chunks=(2, 5)))
    ref = optkern.ot.sinkhorn_vjp(P, grad_P, 0.2, a, b)
    for g, r in zip(dask.compute(*got), ref):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-10)


def test_minimize_batch_native(client, dtype, rng):
    problem = optkern.optimize.problems.rosenbrock(8)
    X0 = rng.standard_normal((40, 8)).astype(dtype)
    res = optkern.optimize.minimize_batch(problem, da.from_array(X0, chunks=(uneven(40, 3), 4)),
                                          max_iter=200)
    ref = optkern.optimize.minimize_batch(problem, X0, max_iter=200)
    x, status, nit, message = dask.compute(res.x, res.status, res.nit, res.message)
    np.testing.assert_array_equal(x, ref.x)  # the same iterates, problem by problem
    np.testing.assert_array_equal(status, ref.status)
    np.testing.assert_array_equal(nit, ref.nit)
    assert tuple(message) == ref.message
    assert len(res) == 40


def test_givens_factorize_stack(client, rng):
    U = np.stack([optkern.givens.planted(6, 4, rng) for _ in range(5)]).reshape(5, 1, 6, 6)
    seqs = optkern.givens.factorize(U, 8)  # the NumPy stack: an object array of sequences
    lazy = optkern.givens.factorize(da.from_array(U, chunks=(uneven(5, 2), 1, 6, 6)), 8)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (5, 1)
    assert lazy.dtype == object
    for got, ref in zip(lazy.compute().ravel(), seqs.ravel()):
        np.testing.assert_array_equal(got.i, ref.i)
        np.testing.assert_array_equal(got.theta, ref.theta)
    with pytest.raises(ValueError, match="^callback"):
        optkern.givens.factorize(da.from_array(U), callback=print)


def test_core_axis_split_is_merged_with_a_warning(client, rng):
    x = rng.standard_normal((4, 64))
    xd = da.from_array(x, chunks=(2, 16))
    with dask.config.set({"array.chunk-size": "1KiB"}):
        with pytest.warns(PerformanceWarning, match="x: its core axes"):
            y = optkern.tv.denoise(xd, 0.3)
    assert y.chunks[-1] == (64,)
    close(y.compute(), optkern.tv.denoise(x, 0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # small data: merged without a word
        optkern.tv.denoise(xd, 0.3)


def test_all_empty_batch(client):
    x = da.zeros((0, 5), chunks=(1, 5))
    assert optkern.tv.denoise(x, 0.1).compute().shape == (0, 5)
    res = optkern.optimize.minimize_batch(optkern.optimize.problems.rosenbrock(2),
                                          da.zeros((0, 2), chunks=(1, 2)))
    assert res.x.compute().shape == (0, 2)


def test_bad_input(client, rng):
    x = da.from_array(rng.standard_normal((6, 10)), chunks=(3, 10))
    # options are checked when the graph is built, with the NumPy call's message
    with pytest.raises(ValueError, match="^method"):
        optkern.tv.denoise(x, 0.1, method="nope")
    with pytest.raises(ValueError, match="^reg"):
        optkern.ot.sinkhorn(x.reshape(2, 3, 10), reg=-1.0)
    with pytest.raises(ValueError, match="^lam"):
        optkern.tv.denoise(x, da.ones(5))
    with pytest.raises(ValueError, match="^x: .*complex"):
        optkern.tv.denoise(x.astype(np.complex128), 0.1)
    with pytest.raises(ValueError, match="^out"):
        optkern.linalg.bmm(x.reshape(2, 3, 10), np.ones((10, 2)), out=np.empty((2, 3, 2)))
    with pytest.raises(ValueError, match="^callback"):
        optkern.ot.sinkhorn(x.reshape(2, 3, 10), reg=0.1, callback=print)
    with pytest.raises(ValueError, match="^b"):
        optkern.linalg.bmm(x.reshape(2, 3, 10), np.ones((9, 2)))
    with pytest.raises(ValueError, match="^a, b"):
        optkern.linalg.bmm(x.reshape(2, 3, 10), np.ones((3, 10, 2)))
    # a single minimize with a dask start: use minimize_batch
    with pytest.raises(ValueError, match="minimize_batch"):
        optkern.optimize.minimize(optkern.optimize.problems.rosenbrock(10), x[0])
    with pytest.raises(ValueError, match="^fun: .*native"):
        optkern.optimize.minimize_batch(lambda X: (X.sum(1), np.ones_like(X)), x)
    # values are checked when their block runs: NaN in one block
    bad = da.concatenate([x[:3], da.full((1, 10), np.nan)])
    with pytest.raises(ValueError, match="^x: expected finite values"):
        optkern.tv.denoise(bad, 0.1).compute()


def test_wrong_meta(client, rng):
    x = da.from_array(rng.standard_normal((6, 10)), chunks=(3, 10))
    # blocks of another dtype than the array declares
    liar = x.map_blocks(lambda b: b.astype(np.float32), dtype=np.float64)
    y = optkern.tv.denoise(liar, 0.1)
    with pytest.raises(ValueError, match=r"^x: expected blocks of dtype float64.*float32"):
        y.compute()
    # blocks that are not NumPy or CuPy arrays
    masked = x.map_blocks(np.ma.masked_invalid)
    with pytest.raises(ValueError, match="^x: expected a dask array of NumPy or CuPy blocks"):
        optkern.tv.denoise(masked, 0.1)
    # unknown chunk sizes
    unknown = x[x[:, 0] > -10]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        optkern.tv.denoise(unknown, 0.1)


def test_thread_count_per_worker_process(client):
    """Workers are separate processes; each runs optkern with its own thread count: the
    default under dask's nanny (OMP_NUM_THREADS=1), then what a worker plugin sets."""
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()
    defaults = client.run(optkern.get_num_threads)
    environ = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    for worker, value in environ.items():
        if value is not None:
            assert defaults[worker] == int(value)

    class OptkernThreads(distributed.WorkerPlugin):  # defined here: pickled by value
        def __init__(self, n):
            self.n = n

        def setup(self, worker):
            import optkern

            optkern.set_num_threads(self.n)

    client.register_plugin(OptkernThreads(2), name="optkern-threads")
    try:
        counts = da.ones((4, 3), chunks=(1, 3)).map_blocks(
            lambda b: np.full((1, 1), optkern.get_num_threads()), chunks=(1, 1), dtype=int)
        assert set(counts.compute().ravel()) == {2}
        # the kernels run with them in the worker processes (and give the same result)
        x = np.random.default_rng(1).standard_normal((64, 200))
        close(optkern.tv.denoise(da.from_array(x, chunks=(16, 200)), 0.5).compute(),
              optkern.tv.denoise(x, 0.5))
    finally:  # n < 1: back to the default
        client.register_plugin(OptkernThreads(0), name="optkern-threads")
    assert client.run(optkern.get_num_threads) == defaults


@pytest.mark.cuda
def test_cupy_blocks_run_on_the_gpu(client, rng):
    cupy = pytest.importorskip("cupy")
    x = rng.standard_normal((8, 50))
    xd = da.from_array(x, chunks=(3, 50)).map_blocks(cupy.asarray)
    y = optkern.tv.denoise(xd, 0.3, device="auto")
    assert isinstance(y._meta, cupy.ndarray)
    out = y.compute()
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(out), optkern.tv.denoise(x, 0.3), rtol=1e-9,
                               atol=1e-10)
    M = rng.random((4, 5, 6))
    res = optkern.ot.sinkhorn(da.from_array(M, chunks=(2, 5, 6)).map_blocks(cupy.asarray),
                              reg=0.1, device="auto")
    np.testing.assert_allclose(cupy.asnumpy(res.plan.compute()),
                               optkern.ot.sinkhorn(M, reg=0.1).plan, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="^x: .*device='cpu'"):
        optkern.tv.denoise(xd, 0.3)
