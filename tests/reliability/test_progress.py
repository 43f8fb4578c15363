"""Progress reports and callbacks of the long-running calls (optkern._progress)."""

import subprocess
import sys

import numpy as np
import pytest

import optkern
from optkern._progress import ProgressBar
from optkern.optimize import minimize, minimize_batch, problems


@pytest.fixture
def no_tqdm(monkeypatch):
    """Simulate a machine without tqdm: importing it fails."""
    monkeypatch.setitem(sys.modules, "tqdm", None)


@pytest.fixture
def with_tqdm():
    return pytest.importorskip("tqdm")


def last_line(err):
    return err.split("\r")[-1]


# --- the helper ---------------------------------------------------------------------------------


def test_plain_line_without_tqdm(no_tqdm, capsys):
    with ProgressBar(3, "demo", "steps") as bar:
        for k in range(3):
            bar.update_to(k + 1, postfix=f"k={k}")
    err = capsys.readouterr().err
    assert err.startswith("\rdemo: 1/3 steps")  # the first update is always shown
    assert last_line(err).startswith("demo: 3/3 steps, ") and last_line(err).endswith(
        "k=2\n")


def test_plain_line_without_total_and_with_a_note(no_tqdm, capsys):
    bar = ProgressBar(None, "count", "evaluations")
    bar.update_to(7)
    bar.close("done")
    bar.close("twice")  # a second close shows nothing
    line = last_line(capsys.readouterr().err)
    assert line.startswith("count: 7 evaluations, ") and line.endswith(" (done)\n")


def test_disabled_bar_shows_nothing(capsys):
    with ProgressBar(5, "quiet", "steps", enabled=False) as bar:
        bar.update_to(5)
    assert capsys.readouterr().err == ""
    assert bar.done == 5


def test_tqdm_bar_when_installed(with_tqdm, capsys):
    with ProgressBar(4, "demo", "steps") as bar:
        for k in range(4):
            bar.update_to(k + 1, postfix="x")
        assert bar._bar is not None and bar._bar.n == 4
    err = capsys.readouterr().err
    assert "demo" in err and "4/4" in err


def test_import_optkern_does_not_import_tqdm():
    code = "import sys, optkern; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("call", "kwargs"), [
    (lambda **k: optkern.givens.factorize(np.eye(3), 3, **k), {}),
    (lambda **k: minimize(lambda x: (float(x @ x), 2 * x), np.ones(2), **k), {}),
    (lambda **k: minimize_batch(problems.rosenbrock(2), np.ones((2, 2)), **k), {}),
    (lambda **k: optkern.ot.sinkhorn(np.eye(2), reg=1.0, **k), {}),
])
@pytest.mark.parametrize(("bad", "name"), [({"progress": 1}, "progress"),
                                            ({"progress": "yes"}, "progress"),
                                            ({"callback": 3}, "callback")])
def test_bad_progress_and_callback_are_named(call, kwargs, bad, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(**bad)


# --- givens -------------------------------------------------------------------------------------


def test_givens_progress_plain(no_tqdm, capsys):
    U = optkern.givens.planted(12, 8, np.random.default_rng(0))
    seq = optkern.givens.factorize(U, 20, progress=True)
    line = last_line(capsys.readouterr().err)
    assert line.startswith(f"givens l1: {len(seq)}/20 factors")
    assert "(stopped: " in line and line.endswith("\n")


def test_givens_progress_tqdm_and_same_result(with_tqdm, capsys):
    U = optkern.givens.planted(12, 8, np.random.default_rng(0))
    quiet = optkern.givens.factorize(U, 20)
    shown = optkern.givens.factorize(U, 20, progress=True)
    np.testing.assert_array_equal(quiet.theta, shown.theta)
    assert "givens l1" in capsys.readouterr().err


# --- optimize -----------------------------------------------------------------------------------


def test_minimize_progress_plain(no_tqdm, capsys):
    p = problems.rosenbrock(10)
    quiet = minimize(p, p.x0)
    shown = minimize(p, p.x0, progress=True)
    np.testing.assert_array_equal(quiet.x, shown.x)
    line = last_line(capsys.readouterr().err)
    assert line.startswith(f"minimize lbfgs: {shown.nit}/15000 iterations")
    assert f"({shown.message})" in line


def test_minimize_progress_with_a_callback_that_stops(no_tqdm, capsys):
    seen = []
    res = minimize(lambda x: (float(x @ x), 2 * x), np.array([3.0, 4.0]), method="gd",
                   alpha0=0.01, callback=lambda x: seen.append(1) or len(seen) == 3,
                   progress=True)
    assert res.status == 99 and res.nit == 3
    assert last_line(capsys.readouterr().err).startswith("minimize gd: 3/15000 iterations")


def test_minimize_batch_progress_gives_one_calls_results(no_tqdm, capsys):
    X0 = np.random.default_rng(1).standard_normal((300, 6))
    quiet = minimize_batch(problems.rosenbrock(6), X0)
    shown = minimize_batch(problems.rosenbrock(6), X0, progress=True)
    for field in ("x", "fun", "jac", "nit", "nfev", "status"):
        np.testing.assert_array_equal(getattr(quiet, field), getattr(shown, field))
    err = capsys.readouterr().err
    assert err.count("\r") >= 2  # several chunks were reported
    assert last_line(err).startswith("minimize_batch lbfgs: 300/300 problems")


def test_minimize_batch_callback_sees_finished_problems(rng):
    X0 = rng.standard_normal((400, 5))
    p = problems.rosenbrock(5)
    sizes = []

    def callback(intermediate_result):
        sizes.append(len(intermediate_result.x))
        assert intermediate_result.success.all()

    res = minimize_batch(p, X0, callback=callback)
    assert sizes and sizes == sorted(sizes) and sizes[-1] < 400  # not called at the end
    np.testing.assert_array_equal(res.x, minimize_batch(p, X0).x)


def test_minimize_batch_callback_stops_the_rest(rng):
    X0 = rng.standard_normal((400, 5))
    p = problems.rosenbrock(5)
    sizes = []
    res = minimize_batch(p, X0, callback=lambda r: sizes.append(len(r.x)) or True)
    done, = sizes
    assert 0 < done < 400
    assert res.success[:done].all() and (res.status[done:] == 99).all()
    np.testing.assert_array_equal(res.x[done:], X0[done:])
    f0, g0 = p(X0[done:])
    np.testing.assert_allclose(res.fun[done:], f0)
    np.testing.assert_allclose(res.jac[done:], g0)
    assert (res.nit[done:] == 0).all() and res[done].message == res.message[done]


def test_minimize_batch_python_objective_progress_counts_evaluations(no_tqdm, capsys):
    A = np.array([1.0, 10.0])
    calls = []

    def fun(X):
        calls.append(1)
        return 0.5 * (X * X) @ A, X * A

    minimize_batch(fun, np.ones((3, 2)), progress=True)
    line = last_line(capsys.readouterr().err)
    assert line.startswith(f"minimize_batch lbfgs: {len(calls)} evaluations")


def test_minimize_batch_refuses_a_callback_it_cannot_honour():
    with pytest.raises(ValueError, match="^callback: expected None with a Python objective"):
        minimize_batch(lambda X: (X.sum(1), np.ones_like(X)), np.ones((2, 2)),
                       callback=lambda r: None)


# --- sinkhorn -----------------------------------------------------------------------------------


def test_sinkhorn_in_chunks_gives_the_same_result(rng):
    M = rng.random((3, 30, 40))
    M[1] *= 20  # problems that converge at different speeds
    quiet = optkern.ot.sinkhorn(M, reg=0.02, tol=1e-12)
    seen = []
    chunked = optkern.ot.sinkhorn(M, reg=0.02, tol=1e-12, callback=seen.append)
    assert len(seen) >= 2
    np.testing.assert_allclose(chunked.plan, quiet.plan, rtol=1e-9, atol=1e-15)
    assert np.abs(chunked.n_iter - quiet.n_iter).max() <= 10  # checked every 10 iterations
    assert chunked.converged.all() and list(chunked.method) == list(quiet.method)


def test_sinkhorn_callback_stops_the_run(rng):
    M = rng.random((20, 20))
    res = optkern.ot.sinkhorn(M, reg=0.001, tol=0.0, max_iter=100000,
                              callback=lambda r: r.n_iter >= 40)
    assert 40 <= res.n_iter < 100000 and not res.converged


def test_sinkhorn_progress_plain(no_tqdm, capsys, rng):
    res = optkern.ot.sinkhorn(rng.random((10, 12)), reg=0.05, progress=True)
    line = last_line(capsys.readouterr().err)
    assert line.startswith("sinkhorn: ") and "/10000 iterations" in line
    assert res.converged


def test_sinkhorn_exact_iteration_count_in_chunks(rng):
    res = optkern.ot.sinkhorn(rng.random((5, 5)), reg=0.001, tol=0.0, max_iter=1234,
                              callback=lambda r: None)
    assert res.n_iter == 1234


def test_sinkhorn_warm_start_in_chunks(rng):
    M = rng.random((6, 7))
    first = optkern.ot.sinkhorn(M, reg=0.05, max_iter=30, tol=0)
    resumed = optkern.ot.sinkhorn(M, reg=0.05, init=(first.f, first.g), callback=lambda r: None)
    direct = optkern.ot.sinkhorn(M, reg=0.05, init=(first.f, first.g))
    np.testing.assert_allclose(resumed.plan, direct.plan, atol=1e-14)
