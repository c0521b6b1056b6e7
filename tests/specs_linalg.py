"""How user code reaches numpy.linalg (issue 11); see ``opspec.py``.

The raw samples are uniform in (-1.5, 1.5); each case builds from them an input in its
op's domain: well-conditioned (``x + 3 I``), positive definite, with well-separated
eigenvalues or singular values (a spread diagonal plus a small ``x``). Eigenvectors,
singular vectors and QR factors are defined up to sign, so their cases fix the signs by
a diagonal that stays far from 0 (``signs``): finite differences are then well defined.
Decompositions with several results return them raveled into one vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from opspec import STD, each, spec

I3 = np.eye(3)


def _eye(x: Any, k: float = 1.0) -> np.ndarray:
    """k on the diagonal of a matrix of x's (possibly rectangular) shape and dtype."""
    m, n = np.shape(x)[-2:]
    return k * np.eye(m, n, dtype=x.dtype)


def well(x):
    """Well-conditioned: x + 3 I."""
    return x + _eye(x, 3.0)


def spd(x):
    """Symmetric positive definite: x x^T + I."""
    return x @ np.swapaxes(x, -1, -2) + _eye(x)


def spread(x):
    """A small x on a diagonal 1, 4, 7, ...: well-separated eigenvalues or singular
    values, and eigen/singular vectors near the identity (whose diagonals fix signs)."""
    m, n = np.shape(x)[-2:]
    k = min(m, n)
    diag = np.zeros((m, n), dtype=x.dtype)
    diag[np.arange(k), np.arange(k)] = 1.0 + 3.0 * np.arange(k)
    return 0.25 * x + diag


def signs(v):
    """The sign of each column's diagonal entry, shaped to scale columns (..., 1, K)."""
    k = min(np.shape(v)[-2:])
    d = v[..., np.arange(k), np.arange(k)]
    return np.sign(d)[..., None, :]  # np.sign of a traced value: a constant


def raveled(*parts):
    return np.concatenate([np.ravel(p) for p in parts])


def eigh_fixed(a, uplo="L"):
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return raveled(w, v * signs(v))


def svd_fixed(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    d = signs(u)
    return raveled(u * d, s, vh * np.swapaxes(d, -1, -2))


def qr_fixed(a):
    q, r = np.linalg.qr(a)
    d = signs(r)
    return raveled(q * d, r * np.swapaxes(d, -1, -2))


def r_fixed(r):
    return r * np.swapaxes(signs(r), -1, -2)


def signed_logabsdet(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return sign * logabsdet


@dataclass(frozen=True)
class Singular:
    """Singular matrices (the last column is the sum of the others), perturbed freely by
    the checks: det there is smooth, and its derivative is the cofactor matrix."""

    def draw(self, rng: np.random.Generator, shape) -> np.ndarray:
        x = STD.draw(rng, shape)
        x[..., -1] = np.sum(x[..., :-1], axis=-1)
        return x

    constant = 0.0


def matrix_function(a):
    """V exp(w) V^T: invariant to the eigenvectors' signs."""
    w, v = np.linalg.eigh(a)
    return (v * np.exp(w)[..., None, :]) @ np.swapaxes(v, -1, -2)


SQUARE = each((3, 3), (1, 1), (2, 2), (2, 3, 3), (0, 0))
RECT = each((4, 3), (3, 4), (3, 3), (2, 4, 3), (1, 1), (1, 3), (0, 3), (3, 0), (2, 0, 2))

SPECS: dict = {
    "inv": [
        spec("np.linalg.inv(x + 3 I)", lambda x: np.linalg.inv(well(x)), SQUARE),
        spec("np.linalg.matrix_power(x + 3 I, -2)",
             lambda x: np.linalg.matrix_power(well(x), -2), each((3, 3), (2, 2, 2))),
        spec("np.linalg.cond(x + 3 I, 1)", lambda x: np.linalg.cond(well(x), 1),
             each((3, 3), (2, 2, 2))),
    ],
    "matmul": [
        spec("np.linalg.matrix_power(x, 5)", lambda x: np.linalg.matrix_power(x, 5),
             each((3, 3), (2, 2, 2))),
        spec("np.linalg.matrix_power(x, 2)", lambda x: np.linalg.matrix_power(x, 2),
             each((1, 1), (3, 3))),
    ],
    "solve": [
        spec("np.linalg.solve(x + 3 I, b)", lambda x, b: np.linalg.solve(well(x), b),
             [((3, 3), (3,)), ((2, 3, 3), (3, 2)), ((1, 1), (1,)), ((2, 2), (2, 2, 1)),
              ((2, 3, 3), (2, 3, 1)), ((3, 3), (2, 3, 4)), ((0, 0), (0,))]),
        spec("np.linalg.solve(3 I + x, [b, 2 b])",
             lambda x, b: np.linalg.solve(well(x), np.stack([b, 2.0 * b], axis=-1)),
             [((3, 3), (3,))]),
    ],
    "det": [
        spec("np.linalg.det(x + 3 I)", lambda x: np.linalg.det(well(x)),
             each((3, 3), (1, 1), (2, 2), (2, 3, 3), (5, 5), (0, 0))),
        spec("np.linalg.det(x)", lambda x: np.linalg.det(x), each((2, 2), (3, 3), (4, 4))),
        spec("np.linalg.det(x) at singular x", lambda x: np.linalg.det(x),
             each((2, 2), (3, 3), (2, 4, 4), (5, 5)), Singular()),
    ],
    "slogdet": [
        spec("np.linalg.slogdet(x + 3 I).logabsdet",
             lambda x: np.linalg.slogdet(well(x)).logabsdet, SQUARE),
        spec("sign * logabsdet of rows swapped",
             lambda x: signed_logabsdet(well(x)[..., ::-1, :]),
             each((2, 2), (3, 3))),
    ],
    "cholesky": [
        spec("np.linalg.cholesky(x x^T + I)", lambda x: np.linalg.cholesky(spd(x)), SQUARE),
        spec("np.linalg.cholesky(x / 2 + 3 I) (lower triangle read)",
             lambda x: np.linalg.cholesky(0.5 * x + _eye(x, 3.0)), each((3, 3), (2, 3, 3))),
        spec("np.linalg.cholesky(x / 2 + 3 I, upper=True)",
             lambda x: np.linalg.cholesky(0.5 * x + _eye(x, 3.0), upper=True),
             each((3, 3), (2, 2))),
    ],
    "eigh": [
        spec("np.linalg.eigh(spread x), signs fixed", lambda x: eigh_fixed(spread(x)),
             SQUARE),
        spec("np.linalg.eigh(spread x, UPLO='U'), signs fixed",
             lambda x: eigh_fixed(spread(x), "U"), each((3, 3), (2, 2, 2))),
        spec("V exp(w) V^T", lambda x: matrix_function(spread(x)), each((3, 3), (2, 2))),
        spec("np.linalg.eigh(spread x).eigenvalues",
             lambda x: np.linalg.eigh(spread(x)).eigenvalues, each((3, 3))),
    ],
    "eigvalsh": [
        spec("np.linalg.eigvalsh(spread x)", lambda x: np.linalg.eigvalsh(spread(x)),
             SQUARE),
        spec("np.linalg.eigvalsh(spread x, UPLO='U')",
             lambda x: np.linalg.eigvalsh(spread(x), UPLO="U"), each((3, 3), (2, 2, 2))),
        spec("np.linalg.eigvalsh(x x^T + I)", lambda x: np.linalg.eigvalsh(spd(x)),
             each((3, 3))),
    ],
    "svd": [
        spec("np.linalg.svd(spread x, full_matrices=False), signs fixed",
             lambda x: svd_fixed(spread(x)), RECT),
        spec("s and U @ Vh of np.linalg.svd(spread x) (square: full_matrices is fine)",
             lambda x: raveled(np.linalg.svd(spread(x)).S,
                               np.linalg.svd(spread(x)).U @ np.linalg.svd(spread(x)).Vh),
             each((3, 3), (2, 2, 2))),
    ],
    "svdvals": [
        spec("np.linalg.svd(spread x, compute_uv=False)",
             lambda x: np.linalg.svd(spread(x), compute_uv=False), RECT),
        spec("np.linalg.svd(x, compute_uv=False)",
             lambda x: np.linalg.svd(x, compute_uv=False), each((4, 3), (2, 2, 3))),
        spec("np.linalg.norm(x, 2)", lambda x: np.linalg.norm(x, 2), each((4, 3), (3, 3))),
        spec("np.linalg.norm(x, -2, axis=(2, 0), keepdims=True)",
             lambda x: np.linalg.norm(x, -2, axis=(2, 0), keepdims=True), each((3, 2, 4))),
        spec("np.linalg.norm(x, 'nuc')", lambda x: np.linalg.norm(x, "nuc"),
             each((4, 3), (2, 2))),
        spec("np.linalg.norm(x, 'nuc', axis=(-1, -2))",
             lambda x: np.linalg.norm(x, "nuc", axis=(-1, -2)), each((2, 3, 4))),
        spec("np.linalg.cond(x + 3 I)", lambda x: np.linalg.cond(well(x)),
             each((3, 3), (2, 2, 2))),
        spec("np.linalg.cond(x + 3 I, -2)", lambda x: np.linalg.cond(well(x), -2),
             each((3, 3))),
    ],
    "qr": [
        spec("np.linalg.qr(x + 2 I), signs fixed", lambda x: qr_fixed(x + _eye(x, 2.0)),
             each((4, 3), (3, 3), (2, 4, 3), (1, 1), (3, 1), (3, 0), (0, 0))),
        spec("np.linalg.qr(x + 2 I, mode='r'), signs fixed",
             lambda x: r_fixed(np.linalg.qr(x + _eye(x, 2.0), mode="r")),
             each((4, 3))),
    ],
    "pinv": [
        spec("np.linalg.pinv(x + 2 I)", lambda x: np.linalg.pinv(x + _eye(x, 2.0)), RECT),
    ],
    "lstsq": [
        spec("np.linalg.lstsq(x + 2 I, b)[0]",
             lambda x, b: np.linalg.lstsq(x + _eye(x, 2.0), b)[0],
             [((4, 3), (4,)), ((3, 4), (3, 2)), ((3, 3), (3,)), ((4, 2), (4, 3))]),
        spec("np.linalg.lstsq(x + 2 I, b) residuals",
             lambda x, b: np.linalg.lstsq(x + _eye(x, 2.0), b)[1],
             [((4, 3), (4,)), ((4, 2), (4, 3))]),
        spec("np.linalg.lstsq(x + 2 I, b) singular values",
             lambda x, b: np.linalg.lstsq(x + _eye(x, 2.0), b)[3] + 0.0 * np.sum(b),
             [((4, 3), (4,))]),
    ],
}
