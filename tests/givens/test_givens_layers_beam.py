"""GivensSequence.layers, factorize(layered=True) and method="beam" (issue 17)."""

import numpy as np
import pytest

from optkern import givens
from optkern.givens import GivensSequence


def haar(d, rng, dtype=np.float64):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def random_sequence(d, n, rng):
    i = rng.integers(0, d - 1, n)
    j = i + 1 + (rng.integers(0, 2**31, n) % (d - 1 - i))
    return GivensSequence(i, j, rng.uniform(-np.pi, np.pi, n), d)


def reference_layers(seq):
    """Earliest-layer schedule, by brute force: the layer of factor k is one more than the
    largest layer of the earlier factors sharing a row with it."""
    layer = []
    for k in range(len(seq)):
        rows = {int(seq.i[k]), int(seq.j[k])}
        before = [layer[m] for m in range(k) if rows & {int(seq.i[m]), int(seq.j[m])}]
        layer.append(max(before, default=-1) + 1)
    return layer


# --- layers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("d", "n"), [(2, 5), (5, 1), (8, 40), (33, 200)])
def test_layers_are_the_earliest_schedule_and_keep_the_product(d, n, rng):
    seq = random_sequence(d, n, rng)
    layers = seq.layers()
    assert seq.depth == len(layers) == max(reference_layers(seq)) + 1
    expected = reference_layers(seq)
    for number, layer in enumerate(layers):
        assert np.all(np.diff(layer) > 0)
        rows = np.concatenate([seq.i[layer], seq.j[layer]])
        assert len(np.unique(rows)) == len(rows)  # disjoint pairs
        assert all(expected[k] == number for k in layer)
    order = np.concatenate(layers)
    assert sorted(order.tolist()) == list(range(n))
    reordered = GivensSequence(seq.i[order], seq.j[order], seq.theta[order], d)
    np.testing.assert_allclose(reordered.to_dense(), seq.to_dense(), atol=1e-13)


def test_layers_of_special_sequences():
    empty = GivensSequence([], [], [], 4)
    assert empty.layers() == [] and empty.depth == 0
    chain = GivensSequence([0, 1, 2], [1, 2, 3], [0.1, 0.2, 0.3], 4)  # each shares a row
    assert [x.tolist() for x in chain.layers()] == [[0], [1], [2]]
    wide = GivensSequence([0, 2, 4, 6], [1, 3, 5, 7], [0.1] * 4, 8)
    assert [x.tolist() for x in wide.layers()] == [[0, 1, 2, 3]]
    back = GivensSequence([0, 2, 0], [1, 3, 1], [0.1, 0.2, 0.3], 4)
    assert [x.tolist() for x in back.layers()] == [[0, 1], [2]]


def test_layered_factorization_keeps_depth_low(rng):
    U = givens.planted(48, 200, rng)
    plain = givens.factorize(U, 200)
    layered = givens.factorize(U, 200, layered=True)
    assert len(layered) == len(plain) == 200
    assert layered.depth < plain.depth

    def err(s):
        return np.linalg.norm(U - s.to_dense()) / np.sqrt(48)

    assert err(layered) <= 1.15 * err(plain)
    # the objective still decreases at every step
    V = layered.rotations.apply(U, transpose=True)
    assert np.abs(V).sum() < np.abs(U).sum()
    # layered=False is the plain L1 engine, step for step
    np.testing.assert_array_equal(givens.factorize(U, 200, layered=False).theta, plain.theta)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layered": 1}, "^layered: expected True or False"),
    ({"layered": True, "method": "greedy"}, "^layered: expected False for method='greedy'"),
    ({"beam_width": 2}, "^beam_width: expected None for method='l1'"),
    ({"method": "beam", "beam_width": 0}, "^beam_width: expected an integer >= 1"),
    ({"method": "beam", "beam_width": 2.5}, "^beam_width: expected an integer"),
    ({"method": "beam", "beam_width": True}, "^beam_width: expected an integer"),
    ({"method": "beam", "beam_width": 10**30}, "^beam_width: expected an integer <= 4096"),
    ({"method": "bream"}, "^method: expected 'l1', 'greedy', 'elimination' or 'beam'"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        givens.factorize(np.eye(4), 3, **kwargs)


# --- beam search ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("U_kind", ["haar", "planted"])
def test_beam_width_one_is_l1(dtype, U_kind, rng):
    d = 24
    U = haar(d, rng, dtype) if U_kind == "haar" else givens.planted(d, 60, rng).astype(dtype)
    l1 = givens.factorize(U, 150)
    beam = givens.factorize(U, 150, method="beam", beam_width=1)
    for name in ("i", "j", "theta", "permutation", "signs"):
        np.testing.assert_array_equal(getattr(beam, name), getattr(l1, name))
    assert beam.stopped_by == l1.stopped_by


def _l1(U, seq):
    return np.abs(seq.rotations.apply(U.astype(np.float64), transpose=True)).sum()


def test_wider_beams_reach_lower_objective(rng):
    d = 32
    U = givens.planted(d, 160, rng)
    n = 100
    objective = {k: _l1(U, givens.factorize(U, n, method="beam", beam_width=k))
                 for k in (1, 4, 8)}
    # the best of k beams is at least as good as the greedy path (which a wider beam keeps
    # unless k better ones replace it): never worse, and here strictly better
    assert objective[4] <= objective[1] + 1e-9 and objective[8] <= objective[1] + 1e-9
    assert min(objective[4], objective[8]) < objective[1] - 1e-6


def test_beam_steps_decrease_the_objective_as_scored(rng):
    U = haar(12, rng)
    steps = []
    seq = givens.factorize(U, 30, method="beam", beam_width=3, callback=steps.append)
    assert [s.index for s in steps] == list(range(len(seq)))
    decreases = np.array([s.decrease for s in steps])
    assert np.all(decreases > 0)
    assert _l1(U, seq) == pytest.approx(np.abs(U).sum() - decreases.sum(), abs=1e-10)
    np.testing.assert_allclose(seq.to_dense(), seq.rotations.to_dense()[:, seq.permutation]
                               * seq.signs, atol=1e-14)


def test_beam_recovers_planted_and_stops(rng):
    U = givens.planted(16, 8, rng)
    seq = givens.factorize(U, 100, method="beam", beam_width=4)
    assert seq.stopped_by == "converged" and len(seq) < 100
    assert np.linalg.norm(U - seq.to_dense()) < 1e-12


def test_beam_tol_callback_and_progress(rng, capsys):
    U = givens.planted(20, 40, rng)
    seq = givens.factorize(U, method="beam", beam_width=2, tol=0.3)
    assert seq.stopped_by == "tol"
    assert np.linalg.norm(U - seq.to_dense()) / np.sqrt(20) <= 0.3
    cut = givens.factorize(U, 50, method="beam", beam_width=2, callback=lambda s: s.index == 4)
    assert len(cut) == 5 and cut.stopped_by == "callback"
    full = givens.factorize(U, 50, method="beam", beam_width=2)
    np.testing.assert_array_equal(cut.theta, full.theta[:5])
    shown = givens.factorize(U, 20, method="beam", beam_width=2, progress=True)
    # chunks (progress runs in chunks) do not change the search
    np.testing.assert_array_equal(shown.theta,
                                  givens.factorize(U, 20, method="beam", beam_width=2).theta)
    assert givens.factorize(U, 0, method="beam").stopped_by == "n_factors"
