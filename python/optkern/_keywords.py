"""Keyword groups that several public functions take alike, declared once.

Sinkhorn's ``method, tol, max_iter, init`` are taken by optkern.ot.sinkhorn, its variants and
the torch adapter, sinkhorn_divergence's ``cost, loss, method, tol, max_iter`` by optkern.ot's
and the torch adapter's, tv.denoise's ``method, tol, max_iter`` by optkern.torch.tv_denoise and
tv.denoise_2d's ``isotropic, tol, max_iter`` by optkern.torch.tv_denoise_2d (optkern.tv
spells them out, tv.denoise being a hot path for short signals: a test checks they agree),
the eleven optimizer settings ``m, c1, ..., eig_floor`` by minimize
and minimize_batch. A function that takes a group writes ``**options: Unpack[TheGroup]`` (so a
type checker knows every name and its type) and is decorated with ``@GROUP.after(name)``,
which

- gives it the full ``__signature__``: :func:`inspect.signature`, ``help()`` and the API
  reference show each keyword of the group, with its default, after the parameter `name`;
- fills in the defaults of the keywords not given, so the function reads ``options[...]``
  (or forwards ``**options``) without a default of its own;
- refuses a keyword the function does not take, as Python does (TypeError).

A group's defaults live here and nowhere else.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypedDict, TypeVar

__all__ = ["DENOISE", "DENOISE_2D", "DIVERGENCE", "OPTIMIZER", "SINKHORN", "Denoise2DOptions",
           "DenoiseOptions", "DivergenceOptions", "KeywordGroup", "OptimizerOptions",
           "SinkhornOptions"]

F = TypeVar("F", bound=Callable[..., Any])


class SinkhornOptions(TypedDict, total=False):
    """How a Sinkhorn solve runs (optkern.ot.sinkhorn's keywords of those names)."""

    method: str
    tol: float
    max_iter: int
    init: Any


class DivergenceOptions(TypedDict, total=False):
    """What sinkhorn_divergence debiases and how its three solves run (optkern.ot's)."""

    cost: str
    loss: str
    method: str
    tol: float
    max_iter: int


class DenoiseOptions(TypedDict, total=False):
    """Which 1-D TV solver runs, and how long (optkern.tv.denoise's keywords)."""

    method: str
    tol: float
    max_iter: int


class Denoise2DOptions(TypedDict, total=False):
    """Which 2-D TV and how long its solver runs (optkern.tv.denoise_2d's keywords)."""

    isotropic: bool
    tol: float
    max_iter: int


class OptimizerOptions(TypedDict, total=False):
    """The settings of the optimisers (optkern.optimize.minimize's keywords of those names)."""

    m: int
    c1: float
    c2: float
    gtol: float
    ftol: float | None
    max_iter: int
    max_fev: int
    max_ls: int
    alpha0: float | None
    tau: float
    eig_floor: float | None


class KeywordGroup:
    """Keyword-only parameters, their annotations (from a TypedDict) and their defaults."""

    def __init__(self, types: type, **defaults: Any):
        # With postponed annotations the TypedDict holds ForwardRefs: keep their text, as
        # inspect shows the annotations of the functions' own parameters.
        annotations = {name: getattr(kind, "__forward_arg__", kind)
                       for name, kind in types.__annotations__.items()}
        if list(annotations) != list(defaults):
            raise TypeError(f"{types.__name__}: defaults for exactly {list(annotations)}")
        self.parameters = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                             default=value, annotation=annotations[name])
                           for name, value in defaults.items()]
        self.defaults = defaults

    def after(self, name: str) -> Callable[[F], F]:
        """Decorator for a function ``f(..., name, ..., **options)``: the group's keywords
        come after the parameter `name` in its signature (see the module's docstring)."""
        def decorate(function: F) -> F:
            signature = inspect.signature(function)
            own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
            at = [p.name for p in own].index(name) + 1
            signature = signature.replace(parameters=own[:at] + self.parameters + own[at:])
            accepted = frozenset(signature.parameters)
            defaults = self.defaults

            @functools.wraps(function)
            def with_defaults(*args: Any, **kwargs: Any) -> Any:
                if not kwargs.keys() <= accepted:
                    key = next(k for k in kwargs if k not in accepted)
                    raise TypeError(f"{function.__name__}() got an unexpected keyword "
                                    f"argument {key!r}")
                return function(*args, **{**defaults, **kwargs})

            with_defaults.__signature__ = signature  # type: ignore[attr-defined]
            # inspect.signature reads __signature__; without __wrapped__, tools that parse
            # the source for defaults (Sphinx's autodoc_preserve_defaults) do not read the
            # def, which lacks the group, and fall back to the signature's values.
            del with_defaults.__wrapped__
            return with_defaults  # type: ignore[return-value]

        return decorate


SINKHORN = KeywordGroup(SinkhornOptions, method="auto", tol=1e-9, max_iter=10000, init=None)
DIVERGENCE = KeywordGroup(DivergenceOptions, cost="sqeuclidean", loss="entropic", method="auto",
                          tol=1e-9, max_iter=10000)
DENOISE = KeywordGroup(DenoiseOptions, method="exact", tol=1e-6, max_iter=1000)
DENOISE_2D = KeywordGroup(Denoise2DOptions, isotropic=False, tol=1e-6, max_iter=2000)
OPTIMIZER = KeywordGroup(OptimizerOptions, m=10, c1=1e-4, c2=0.9, gtol=1e-5, ftol=None,
                         max_iter=15000, max_fev=15000, max_ls=20, alpha0=None, tau=0.5,
                         eig_floor=None)
