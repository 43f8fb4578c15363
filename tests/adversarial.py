"""Adversarial inputs for the fuzz suites (tests/fuzz/test_fuzz_*.py), and the contract they check.

The contract (issue 8): every public function either returns a finite, correct result or
raises ValueError or TypeError whose message names the argument at fault; nothing crashes,
hangs or returns NaN for finite input.

Arrays are described by an :class:`ArraySpec` that hypothesis draws (shape, dtype, what
values, what memory layout, a seed) and built with NumPy from it, so that hypothesis
shrinks a failure to a short, readable spec instead of to thousands of array elements.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import event
from hypothesis import strategies as st

import optkern

FLOAT_DTYPES = ("float64", "float32")
# ">f8" and ">f4": byte-swapped floats, as FITS files and network data hold them
ACCEPTED_DTYPES = FLOAT_DTYPES + ("float16", "int64", "int32", "uint8", "bool", ">f8", ">f4")
REJECTED_DTYPES = ("complex128", "complex64", "object", "str")

# Values at the edges of double precision: signed zeros, subnormals (5e-324 is the smallest),
# 1e±300, the largest finite double. NaN and Inf come through fill="nonfinite".
EDGE_VALUES = (0.0, -0.0, 5e-324, -5e-324, 2.5e-310, 1e-300, -1e-300, 1e300, -1e300,
               1.7976931348623157e308, -1.7976931348623157e308)
# Every example is drawn either valid (every choice from the good values, so that it reaches
# the result checks) or adversarial (bad values mixed in), by one flag that all the
# strategies below share within an example: about half of the examples are each.
VALID = st.shared(st.booleans(), key="optkern-valid-example")
FILLS = ("normal", "normal", "positive", "zeros", "tiny", "huge", "edges")
BAD_FILLS = ("nonfinite",)
LAYOUTS = ("c", "c", "fortran", "strided", "reversed", "readonly", "unaligned", "broadcast")


def choice(good: Sequence[Any], bad: Sequence[Any] = ()) -> st.SearchStrategy:
    """One of `good` in a valid example; one of `good` or `bad` in an adversarial one."""
    good, bad = list(good), list(bad)
    mixed = st.sampled_from(good + bad) if bad else st.sampled_from(good)
    return VALID.flatmap(lambda valid: st.sampled_from(good) if valid else mixed)

@dataclass(frozen=True)
class ArraySpec:
    """How to build one test array: ``build()`` returns it."""

    shape: tuple[int, ...]
    dtype: str = "float64"
    fill: str = "normal"
    layout: str = "c"
    seed: int = 0

    def build(self) -> Any:
        return build_array(self)

    @property
    def rejected_dtype(self) -> bool:
        return self.dtype in REJECTED_DTYPES

    @property
    def compute_dtype(self) -> str:
        """The dtype optkern computes in for this array (the policy of _validation)."""
        dtype = np.dtype(self.dtype)
        if dtype.kind == "f":
            return "float32" if dtype.itemsize <= 4 else "float64"
        return "float64"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def values(spec: ArraySpec, rng: np.random.Generator) -> np.ndarray:
    """float64 values of the spec's shape (before the dtype conversion)."""
    shape, fill = spec.shape, spec.fill
    if fill.endswith("+"):  # the magnitudes of another fill: weights, say
        return np.abs(values(ArraySpec(shape, spec.dtype, fill[:-1]), rng))
    if fill == "zeros":
        return np.zeros(shape)
    if fill == "positive":
        return rng.random(shape) + 0.01
    if fill == "tiny":
        return rng.standard_normal(shape) * 1e-310  # subnormal
    if fill == "huge":
        return rng.standard_normal(shape) * 1e300
    x = rng.standard_normal(shape)
    if fill == "edges" and x.size:
        mask = rng.random(shape) < 0.5
        x[mask] = rng.choice(EDGE_VALUES, size=int(mask.sum()))
    if fill == "nonfinite" and x.size:
        flat = x.reshape(-1)
        flat[rng.integers(flat.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return x


def convert(x: np.ndarray, dtype: str, rng: np.random.Generator) -> np.ndarray:
    """x in `dtype`; integer and bool dtypes get small integers, not overflowing casts."""
    if dtype == "object":
        return x.astype(object)
    if dtype == "str":
        return x.astype(str)
    if dtype == "bool":
        return np.asarray(x > 0)
    if dtype in ("int64", "int32", "uint8"):
        lo = 0 if dtype == "uint8" else -5
        return rng.integers(lo, 6, size=x.shape).astype(dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if dtype.startswith("complex"):
            return (x + 1j * rng.standard_normal(x.shape)).astype(dtype)
        return x.astype(dtype)


def relayout(x: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout: column-major, strided, reversed,
    read-only, misaligned (odd byte strides) or a zero-stride broadcast."""
    if x.ndim == 0 and layout != "readonly":
        return x
    if layout == "fortran":
        return np.asfortranarray(x)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in x.shape), x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if layout == "reversed":
        rev = tuple(slice(None, None, -1) for _ in x.shape)
        return np.ascontiguousarray(x[rev])[rev]
    if layout == "readonly":
        y = x.copy()
        y.flags.writeable = False
        return y
    if layout == "unaligned" and x.dtype.kind in "fiu" and x.dtype.itemsize > 1:
        record = np.zeros(x.shape, dtype=[("pad", np.int8), ("v", x.dtype)])
        record["v"] = x
        return record["v"]  # strides of itemsize + 1 bytes, misaligned data
    if layout == "broadcast" and x.ndim and x.shape[0] > 1:
        # the first row repeated with a zero stride: a read-only view (values change)
        return np.broadcast_to(x[:1], x.shape)
    return x


def build_array(spec: ArraySpec) -> Any:
    rng = np.random.default_rng(spec.seed)
    x = np.asarray(convert(np.asarray(values(spec, rng), np.float64), spec.dtype, rng))
    return relayout(x, spec.layout)


def specs(shape: Any, *, dtypes: Sequence[str] = ACCEPTED_DTYPES + FLOAT_DTYPES * 3,
          bad_dtypes: Sequence[str] = REJECTED_DTYPES, fills: Sequence[str] = FILLS,
          bad_fills: Sequence[str] = BAD_FILLS, layouts: Sequence[str] = LAYOUTS
          ) -> st.SearchStrategy:
    """ArraySpecs with shapes from the strategy (or fixed tuple) `shape`: accepted dtypes
    and finite values in valid examples, rejected dtypes and NaN/Inf in adversarial ones."""
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    return st.builds(
        ArraySpec,
        shape=shape_strategy,
        dtype=choice(dtypes, bad_dtypes),
        fill=choice(fills, bad_fills),
        layout=choice(layouts),
        seed=st.integers(0, 2**32 - 1),
    )


def dims(low: int = 0, high: int = 5) -> st.SearchStrategy:
    """Dimension sizes, with the edges 0 and 1 drawn often (0 in about 1 draw of 10)."""
    edges = st.sampled_from([n for n in (0, 1, 1, 2) if low <= n <= high] or [low])
    return st.sampled_from([False, True, False, False]).flatmap(
        lambda edge: edges if edge else st.integers(max(low, 1), max(high, 1)))


def batch_shapes(max_dims: int = 2, max_side: int = 3) -> st.SearchStrategy:
    return st.lists(st.integers(0, max_side), min_size=0, max_size=max_dims).map(tuple)


# Scalars for numeric parameters: ordinary values and every kind of bad one.
BAD_SCALARS = (float("nan"), float("inf"), -float("inf"), -1.0, 0.0, -0.0, 5e-324, 1e300,
               -1e300, True, None, "1", 1 + 1j, [1.0], np.float32(np.nan), np.int64(-3),
               object())


def scalars(good: st.SearchStrategy, bad_values: Sequence[Any] = BAD_SCALARS
            ) -> st.SearchStrategy:
    """A parameter value: a `good` one in a valid example; in an adversarial one, a good
    one or one of `bad_values`."""
    bad = st.sampled_from(list(bad_values))
    return VALID.flatmap(lambda valid: good if valid else st.one_of(good, bad))


# --- the contract ------------------------------------------------------------------------

ERRORS = (ValueError, TypeError)
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:, [A-Za-z_][A-Za-z0-9_]*)*):")


def named_arguments(exc: BaseException) -> set[str]:
    """The arguments a message names: "a, b: expected ..." names a and b. LinAlgErrors
    (singular systems) may name their argument anywhere in the message."""
    message = str(exc)
    match = _NAME.match(message)
    names = set(match.group(1).split(", ")) if match else set()
    if isinstance(exc, np.linalg.LinAlgError):
        names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message))
    return names


@dataclass
class Outcome:
    """What a call did: its result, or the ValueError/TypeError it raised."""

    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def raised(self, *names: str) -> bool:
        """True when it raised an error naming one of `names`."""
        return self.error is not None and bool(named_arguments(self.error) & set(names))


def call(fn: Callable[..., Any], *args: Any, arguments: Sequence[str], **kwargs: Any) -> Outcome:
    """Call fn; any exception but ValueError/TypeError naming one of `arguments` fails."""
    try:
        with np.errstate(all="ignore"):
            return Outcome(result=fn(*args, **kwargs))
    except ERRORS as exc:
        names = named_arguments(exc)
        assert names & set(arguments), (
            f"{type(exc).__name__} does not name an argument of {sorted(arguments)}: {exc}")
        return Outcome(error=exc)


def expect_error(outcome: Outcome, *names: str) -> None:
    """The call must have raised an error naming one of `names`."""
    assert outcome.error is not None, f"expected an error naming {names}, got a result"
    assert outcome.raised(*names), f"expected an error naming {names}, got: {outcome.error}"
    event(f"rejected: {sorted(named_arguments(outcome.error) & set(names))[0]}")


def expect_ok(outcome: Outcome) -> Any:
    if outcome.error is not None:
        raise AssertionError(f"valid input was rejected: {outcome.error!r}") from outcome.error
    event("accepted: result checked")
    return outcome.result


def policy_dtype(*arrays: Any) -> np.dtype:
    """The dtype optkern computes in for these accepted inputs: NumPy's result type, floats
    of 4 bytes or less as float32, everything else as float64."""
    dtype = np.result_type(*(np.asarray(x).dtype for x in arrays))
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def has_nonfinite(x: Any) -> bool:
    """Whether a numeric array holds NaN or Inf (False for integers, bools and non-numbers)."""
    x = np.asarray(x)
    return x.dtype.kind in "fc" and not np.isfinite(x).all()


def moderate(*arrays: Any) -> bool:
    """All magnitudes within 1e300, the range the issue asks to be exact in. Values near
    DBL_MAX (1.8e308) may overflow an intermediate sum: the results are then Inf where the
    true value is out of range, and the tests only ask for no crash."""
    return all(np.abs(np.asarray(a, np.float64)).max(initial=0) <= 1e300 for a in arrays)


def all_finite(*arrays: Any) -> bool:
    return all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays)


def is_number(value: Any) -> bool:
    """A real number (not bool): what check_number accepts before its range check."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def finite_number(value: Any) -> bool:
    return is_number(value) and math.isfinite(float(value))


# The device argument: mostly valid, sometimes a device that is absent here or no device.
DEVICES = choice(["cpu"] * 3 + ["auto"], ["cuda", "gpu", None])


def check_device(outcome: Outcome, device: Any) -> bool:
    """True when the device argument decides the outcome (and checks it)."""
    if device in ("cpu", "auto"):
        return False
    if device == "cuda" and optkern.cuda_available():
        return False
    expect_error(outcome, "device")
    return True
