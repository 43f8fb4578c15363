"""optkern.torch: autograd Functions over optkern's Sinkhorn and TV kernels."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference.sinkhorn import kkt_vjp_dense, min_norm_gauge  # noqa: E402

import optkern  # noqa: E402
import optkern.torch as okt  # noqa: E402
from optkern import _backend  # noqa: E402
from optkern.torch import _device_vjp  # noqa: E402

TIGHT = {"tol": 1e-14, "max_iter": 100000}


def f64(x, requires_grad=True):
    return torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=requires_grad)


def cost(rng, *shape):
    return f64(rng.random(shape))


def weights(rng, size, mass=1.0, batch=()):
    w = rng.random(batch + (size,)) + 0.5
    return f64(mass * w / w.sum(-1, keepdims=True))


# --- Sinkhorn: forward ------------------------------------------------------------------------


def test_plan_is_optkerns_plan(rng, dtype):
    M = rng.random((5, 4)).astype(dtype)
    P = okt.sinkhorn(torch.from_numpy(M), reg=0.1)
    assert P.dtype == torch.from_numpy(M).dtype
    np.testing.assert_array_equal(P.numpy(), optkern.ot.sinkhorn(M, reg=0.1).plan)


def test_return_result_gives_the_forward_details(rng):
    P, res = okt.sinkhorn(cost(rng, 3, 4), reg=0.2, return_result=True)
    assert res.converged and res.n_iter > 0
    # the same plan, in memory of its own: writing into one leaves the other as it was
    np.testing.assert_array_equal(P.detach().numpy(), res.plan)
    assert not np.shares_memory(P.detach().numpy(), res.plan)


def test_numpy_marginals_and_int_cost_are_accepted():
    M = torch.tensor([[0, 1], [1, 0]])
    P = okt.sinkhorn(M, np.array([0.5, 0.5]), np.array([0.25, 0.75]), reg=1.0)
    assert P.dtype == torch.float64
    np.testing.assert_allclose(P.sum(0).numpy(), [0.25, 0.75], atol=1e-9)


def test_unconverged_plan_warns(rng):
    with pytest.warns(RuntimeWarning, match="did not converge"):
        okt.sinkhorn(cost(rng, 6, 6), reg=0.001, max_iter=1)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"M": torch.zeros(3)}, "M"),
    ({"M": torch.full((2, 2), float("nan"))}, "M"),
    ({"M": torch.zeros(2, 2), "a": torch.tensor([1.0, -1.0])}, "a"),
    ({"M": torch.zeros(2, 2), "a": torch.ones(3)}, "a"),
    ({"M": torch.zeros(2, 2), "b": torch.tensor([0.9, 0.9])}, "b"),
    ({"M": torch.zeros(2, 2), "reg": 0.0}, "reg"),
    ({"M": torch.zeros(2, 2), "on_singular": "ignore"}, "on_singular"),
    ({"M": "abc"}, "M"),
])
def test_bad_input_names_the_argument(kwargs, name):
    kwargs = {"reg": 0.1, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        okt.sinkhorn(**kwargs)


def test_meta_tensors_are_refused():
    with pytest.raises(ValueError, match="^M: expected a CPU or CUDA tensor"):
        okt.sinkhorn(torch.zeros(2, 2, device="meta"), reg=0.1)


# --- Sinkhorn: gradients ----------------------------------------------------------------------


def test_gradcheck_plan_in_M(rng):
    a, b = weights(rng, 3).detach(), weights(rng, 4).detach()
    assert torch.autograd.gradcheck(lambda M: okt.sinkhorn(M, a, b, reg=0.3, **TIGHT),
                                    (cost(rng, 3, 4),))


def test_gradcheck_plan_in_a_and_b(rng):
    # Moving a or b alone changes the mass by eps: sinkhorn rescales b to a's mass, and the
    # gradients must be those of that function (optkern._autodiff).
    M = cost(rng, 3, 4).detach()
    assert torch.autograd.gradcheck(lambda a, b: okt.sinkhorn(M, a, b, reg=0.3, **TIGHT),
                                    (weights(rng, 3), weights(rng, 4)), eps=1e-7)


def test_gradcheck_plan_default_b_follows_a(rng):
    M = cost(rng, 4, 3).detach()
    assert torch.autograd.gradcheck(lambda a: okt.sinkhorn(M, a, reg=0.3, **TIGHT),
                                    (weights(rng, 4, mass=2.0),), eps=1e-7)


def test_gradcheck_batched_with_broadcast_operands(rng):
    # M shared by the batch, a per problem, b shared: gradients are summed back.
    M = cost(rng, 3, 4)
    a = weights(rng, 3, batch=(2,))
    b = weights(rng, 4)
    assert torch.autograd.gradcheck(lambda M, a, b: okt.sinkhorn(M, a, b, reg=0.4, **TIGHT),
                                    (M, a, b), eps=1e-7)


def test_gradcheck_cost_value(rng):
    M = cost(rng, 2, 3, 4)
    a, b = weights(rng, 3, batch=(2,)), weights(rng, 4, batch=(2,))
    assert torch.autograd.gradcheck(lambda M, a, b: okt.sinkhorn_cost(M, a, b, reg=0.2, **TIGHT),
                                    (M, a, b), eps=1e-7)


def test_float32_gradients_match_float64(rng):
    M = rng.random((4, 5))
    grads = []
    for dt in (torch.float32, torch.float64):
        Mt = torch.tensor(M, dtype=dt, requires_grad=True)
        P = okt.sinkhorn(Mt, reg=0.2)
        (P * torch.arange(20, dtype=dt).reshape(4, 5)).sum().backward()
        assert Mt.grad.dtype == dt
        grads.append(Mt.grad.double().numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-4)


def test_singular_backward_raises_or_gives_nan():
    # A block-diagonal cost at a tiny reg: the plan's support falls apart in two blocks.
    M = f64([[0.0, 0.0, 50.0, 50.0], [0.0, 0.0, 50.0, 50.0],
             [50.0, 50.0, 0.0, 0.0], [50.0, 50.0, 0.0, 0.0]])
    with pytest.raises(optkern.ot.SinkhornBackwardError):
        okt.sinkhorn(M, reg=0.01).sum().backward()
    M.grad = None
    P = okt.sinkhorn(M, reg=0.01, on_singular="nan")
    (P * P).sum().backward()
    assert torch.isnan(M.grad).all()


# --- the device-side backward (run here on CPU tensors) ---------------------------------------


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 5, 5), (1, 1)])
def test_device_vjp_matches_the_cpu_kernel(rng, shape):
    M = rng.random(shape)
    P = optkern.ot.sinkhorn(M, reg=0.2, tol=1e-13).plan
    W = rng.standard_normal(shape)
    want = optkern.ot.sinkhorn_vjp(P, W, 0.2)
    got = _device_vjp.sinkhorn_vjp(torch.from_numpy(P), torch.from_numpy(W), 0.2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-9, atol=1e-12)


def test_device_vjp_matches_the_dense_reference(rng):
    P = optkern.ot.sinkhorn(rng.random((5, 3)), reg=0.1, tol=1e-13).plan
    W = rng.standard_normal((5, 3))
    grad_M, lam, mu = _device_vjp.sinkhorn_vjp(torch.from_numpy(P), torch.from_numpy(W), 0.1)
    ref_M, ref_lam, ref_mu = kkt_vjp_dense(P, W, 0.1)
    ref_lam, ref_mu = min_norm_gauge(ref_lam, ref_mu)
    np.testing.assert_allclose(grad_M.numpy(), ref_M, atol=1e-10)
    np.testing.assert_allclose(lam.numpy(), ref_lam, atol=1e-9)
    np.testing.assert_allclose(mu.numpy(), ref_mu, atol=1e-9)


def test_device_vjp_zero_weights_and_float32(rng):
    a = np.array([0.3, 0.0, 0.7])
    b = np.array([0.5, 0.5, 0.0, 0.0])
    P = optkern.ot.sinkhorn(rng.random((3, 4)), a, b, reg=0.2, tol=1e-12).plan
    W = rng.standard_normal((3, 4))
    want = optkern.ot.sinkhorn_vjp(P, W, 0.2)
    got = _device_vjp.sinkhorn_vjp(torch.from_numpy(P), torch.from_numpy(W), 0.2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-9, atol=1e-12)  # NaN where want NaN
    P32 = torch.from_numpy(P.astype(np.float32))
    got32 = _device_vjp.sinkhorn_vjp(P32, torch.from_numpy(W.astype(np.float32)), 0.2)
    assert all(g.dtype == torch.float32 for g in got32)
    np.testing.assert_allclose(got32[0].numpy(), want[0], atol=1e-5)


def test_device_vjp_singular():
    P = torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=torch.float64)
    with pytest.raises(optkern.ot.SinkhornBackwardError):
        _device_vjp.sinkhorn_vjp(P, torch.ones(2, 2, dtype=torch.float64), 1.0)
    batch = torch.stack([P, torch.full((2, 2), 0.25, dtype=torch.float64)])
    grad_M, lam, _ = _device_vjp.sinkhorn_vjp(batch, torch.ones(2, 2, 2, dtype=torch.float64),
                                              1.0, on_singular="nan")
    assert torch.isnan(grad_M[0]).all() and torch.isfinite(grad_M[1]).all()


# --- TV -----------------------------------------------------------------------------------------


def signals(rng, *shape):
    return f64(np.cumsum(rng.standard_normal(shape), axis=-1))


def test_tv_matches_optkern(rng, dtype):
    x = np.cumsum(rng.standard_normal((3, 50)), axis=-1).astype(dtype)
    y = okt.tv_denoise(torch.from_numpy(x), 0.7)
    np.testing.assert_array_equal(y.numpy(), optkern.tv.denoise(x, 0.7))


def test_tv_gradcheck_x_and_scalar_lam(rng):
    lam = f64(0.8)
    assert torch.autograd.gradcheck(okt.tv_denoise, (signals(rng, 20), lam))


def test_tv_gradcheck_batched_per_signal_lam(rng):
    x = signals(rng, 2, 3, 8)
    lam = f64(rng.random((2, 3)) + 0.3)
    assert torch.autograd.gradcheck(okt.tv_denoise, (x, lam))
    lam_row = f64(rng.random(3) + 0.3)  # broadcast over the leading dimension
    assert torch.autograd.gradcheck(okt.tv_denoise, (x, lam_row), fast_mode=True)
    lam_keep = f64(rng.random((2, 3, 1)) + 0.3)  # the keepdims form
    assert torch.autograd.gradcheck(okt.tv_denoise, (x, lam_keep), fast_mode=True)


def test_tv_float_lam_gets_no_gradient_and_float32_works(rng):
    x = torch.tensor(np.cumsum(rng.standard_normal(40)), dtype=torch.float32,
                     requires_grad=True)
    y = okt.tv_denoise(x, 1.0)
    y.square().sum().backward()
    assert x.grad.dtype == torch.float32
    want, _ = optkern.tv.denoise_vjp(y.detach().numpy(), 2 * y.detach().numpy(), 1.0)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_tv_irls_backward_uses_a_segment_tolerance(rng):
    x = signals(rng, 40)
    y_exact = okt.tv_denoise(x, 2.0)
    y_irls = okt.tv_denoise(x, 2.0, method="irls", tol=1e-12, max_iter=20000)
    w = torch.arange(40, dtype=torch.float64)
    g_exact = torch.autograd.grad((y_exact * w).sum(), x)[0]
    g_irls = torch.autograd.grad((y_irls * w).sum(), x)[0]
    np.testing.assert_allclose(g_irls.numpy(), g_exact.numpy(), atol=1e-9)


@pytest.mark.parametrize(("x", "lam", "name"), [
    (torch.tensor([1.0, float("inf")]), 1.0, "x"),
    (torch.ones(3), -1.0, "lam"),
    (torch.ones(2, 3), torch.ones(3), "lam"),
    (torch.ones(3), torch.tensor(float("nan")), "lam"),
])
def test_tv_bad_input_names_the_argument(x, lam, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        okt.tv_denoise(x, lam)


# --- zero copy on the CPU ---------------------------------------------------------------------


class _Spy:
    """Forwards to the compiled module and records the data pointers of the calls it sees;
    names are dotted, "<area>.<function>", as the area submodules hold them."""

    def __init__(self, core, names, prefix="", calls=None):
        self.core, self.names, self.prefix = core, names, prefix
        self.calls = [] if calls is None else calls

    def __getattr__(self, name):
        fn = getattr(self.core, name)
        full = self.prefix + name
        if any(n.startswith(full + ".") for n in self.names):  # an area submodule
            return _Spy(fn, self.names, full + ".", self.calls)
        if full not in self.names:
            return fn

        def spy(*args):
            self.calls.append((full, [a.__array_interface__["data"][0] for a in args
                                      if isinstance(a, np.ndarray)]))
            return fn(*args)

        return spy


@pytest.fixture
def spy(monkeypatch):
    s = _Spy(_backend._core, {"ot.sinkhorn", "ot.sinkhorn_vjp", "tv.denoise", "tv.denoise_vjp"})
    monkeypatch.setattr(_backend, "_core", s)
    return s


def test_sinkhorn_cpu_tensors_cross_without_copies(rng, spy):
    M = cost(rng, 4, 5)
    a, b = weights(rng, 4), weights(rng, 5)
    P = okt.sinkhorn(M, a, b, reg=0.1)
    (name, ptrs), = spy.calls
    assert name == "ot.sinkhorn"
    # inputs M, a, b read in place; the plan is the kernel's output buffer
    assert ptrs[:3] == [M.data_ptr(), a.data_ptr(), b.data_ptr()]
    assert P.data_ptr() in ptrs[3:]
    grad = torch.ones(4, 5, dtype=torch.float64)
    P.backward(grad)
    name, ptrs = spy.calls[1]
    assert name == "ot.sinkhorn_vjp" and ptrs[0] == P.data_ptr()
    assert M.grad.data_ptr() in ptrs[2:]


def test_tv_cpu_tensors_cross_without_copies(rng, spy):
    x = signals(rng, 2, 30)
    y = okt.tv_denoise(x, 0.5)
    (name, ptrs), = spy.calls
    assert name == "tv.denoise" and ptrs[0] == x.data_ptr() and y.data_ptr() in ptrs[2:]
    g = torch.randn(2, 30, dtype=torch.float64)
    y.backward(g)
    name, ptrs = spy.calls[1]
    assert name == "tv.denoise_vjp" and ptrs[:2] == [y.data_ptr(), g.data_ptr()]
    assert x.grad.data_ptr() in ptrs[2:]


# --- CUDA (skipped without a GPU) -------------------------------------------------------------


@pytest.mark.cuda
def test_sinkhorn_cuda_tensors_stay_on_the_device(rng, monkeypatch):
    transfers = []
    monkeypatch.setattr(optkern._gpu.HostStaging, "__init__",
                        lambda *a, **k: transfers.append("staging"))
    M = cost(rng, 3, 6, 5).cuda().detach().requires_grad_()
    a = weights(rng, 6).cuda().detach().requires_grad_()
    P = okt.sinkhorn(M, a, reg=0.1)
    assert P.is_cuda
    W = torch.randn(3, 6, 5, dtype=torch.float64, device="cuda")
    (P * W).sum().backward()
    assert M.grad.is_cuda and a.grad.is_cuda and not transfers
    Mc, ac = M.detach().cpu().requires_grad_(), a.detach().cpu().requires_grad_()
    (okt.sinkhorn(Mc, ac, reg=0.1) * W.cpu()).sum().backward()
    np.testing.assert_allclose(P.detach().cpu().numpy(), okt.sinkhorn(Mc, ac, reg=0.1)
                               .detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(M.grad.cpu().numpy(), Mc.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(a.grad.cpu().numpy(), ac.grad.numpy(), atol=1e-8)


@pytest.mark.cuda
def test_sinkhorn_cuda_reads_the_tensor_in_place(rng, monkeypatch):
    seen = []
    real = optkern._gpu.device_views

    def views(arrays, stream):
        out = real(arrays, stream)
        seen.extend(v.ptr for v in out)
        return out

    monkeypatch.setattr(optkern._gpu, "device_views", views)
    M = cost(rng, 5, 4).cuda().detach()
    okt.sinkhorn(M, reg=0.1)
    assert M.data_ptr() in seen


@pytest.mark.cuda
def test_tv_cuda_tensors_stay_on_the_device(rng):
    x = signals(rng, 4, 64).cuda().detach().requires_grad_()
    lam = torch.full((4,), 0.5, dtype=torch.float64, device="cuda", requires_grad=True)
    y = okt.tv_denoise(x, lam)
    assert y.is_cuda
    w = torch.randn(4, 64, dtype=torch.float64, device="cuda")
    (y * w).sum().backward()
    assert x.grad.is_cuda and lam.grad.is_cuda
    xc, lc = x.detach().cpu().requires_grad_(), lam.detach().cpu().requires_grad_()
    (okt.tv_denoise(xc, lc) * w.cpu()).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xc.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(lam.grad.cpu().numpy(), lc.grad.numpy(), atol=1e-8)


# --- imports ------------------------------------------------------------------------------------


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_import_optkern_does_not_import_torch_or_jax():
    out = run("import sys, optkern; print('torch' in sys.modules, 'jax' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_import_without_torch_says_how_to_install():
    out = run("import sys; sys.modules['torch'] = None\n"
              "try:\n    import optkern.torch\n"
              "except ImportError as e:\n    print('ImportError:', e)")
    assert out.returncode == 0, out.stderr
    assert "ImportError: optkern.torch needs PyTorch" in out.stdout
    assert "pip install torch" in out.stdout
