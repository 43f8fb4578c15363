"""Shared pieces of the Givens figure scripts: CSV output, errors along a sequence, plots."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from optkern import givens

OUT = Path(__file__).parent / "out"


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


def error_after(U: np.ndarray, seq: givens.GivensSequence, k: int) -> float:
    """||U - G_1 ... G_k||_sym / sqrt(d), computed as the distance of V_k = G_k^T ... G_1^T U
    to the signed permutations (the Frobenius norm is invariant under G_1 ... G_k)."""
    V = seq[:k].apply(U, transpose=True)
    return givens.symmetrized_frobenius(np.eye(U.shape[0]), V, normalize=True)


def errors_along(U: np.ndarray, seq: givens.GivensSequence, ks: list[int]) -> list[float]:
    """Errors after k factors for increasing ks, applying each stretch of factors once."""
    V = U.astype(np.float64)
    errors, done = [], 0
    I = np.eye(U.shape[0])
    for k in ks:
        k = min(k, len(seq))
        V = seq[done:k].apply(V, transpose=True)
        done = k
        errors.append(givens.symmetrized_frobenius(I, V, normalize=True))
    return errors


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, name: str, dpi: int) -> None:
    """Lay out fig, write it to OUT / name and say so."""
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=dpi)
    print(f"wrote {OUT / name}")


def finish_plot(fig, ax, name: str, *, xlabel: str, ylabel: str, title: str,
                fontsize: int) -> None:
    """Label a one-axes figure, add its legend and save it (120 dpi)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=fontsize)
    ax.legend()
    save_figure(fig, name, dpi=120)


def print_table(note: str, header: list[str], lines) -> None:
    """A note, then a Markdown table of the given header and body lines."""
    print(note)
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for line in lines:
        print(line)


def dlogd(d: int) -> int:
    return int(d * math.log2(d))
