"""numpy.linalg on traced values: the linear-algebra ops and their numpy handlers.

Primitives (``explicit`` ops): inv, solve, det, slogdet (log|det|), cholesky, eigh,
eigvalsh, svd, svdvals, qr, pinv, lstsq. Composites of them (no rules of their own):
matrix_power, cond, norm's matrix orders 2 / -2 / 'nuc' (in numpy_api), matrix_norm,
vector_norm, svdvals; matrix_rank is answered on the plain values (an integer).

Each decomposition is one op whose JVP and VJP are the standard matrix identities,
written with numpy calls (so nested transformations differentiate them too) on trailing
axes (so stacks of matrices and leading batch axes of tangents both work). An op has
one array output, so a decomposition with several results packs them along the
second-to-last axis (eigh: ``[w; V]``, svd: ``[U; s; V]``, qr: ``[Q; R]``) and its
handler slices them apart: the slices are ordinary (linear) indexing.

Conventions where a derivative does not exist (each raises or is documented here):

- Repeated eigenvalues (singular values): the eigenvalues are not differentiable there
  (like ``max`` at a tie), and ties split evenly: each value of a cluster gets the mean
  of the cluster's derivatives, trace(P dA) / m for the eigenspace projector P. Values
  within ``n * eps * max|w|`` of each other count as a cluster. Eigenvectors (singular
  vectors) have no derivative at all there: their rules raise ``LinAlgError``, unless no
  derivative reaches the vectors (reverse mode with a zero cotangent for them).
- A zero singular value is a kink (|x| at 0): its derivative is 0, as sign(0) = 0; the
  singular vectors raise there.
- det: the derivative is the cofactor matrix, exact also at singular matrices (from the
  minors for n <= 3 or ill-conditioned matrices up to 12 x 12; beyond, it raises).
- slogdet, cholesky, qr, pinv, lstsq and cond raise ``LinAlgError`` where the function
  is not differentiable (singular, rank-deficient: pinv jumps there); inv and solve of a
  singular matrix raise numpy's own error.
- eigh, eigvalsh and cholesky read one triangle, as numpy does: the other gets a zero
  derivative.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.linalg import LinAlgError

from .core import Tracer, concrete, result_dtype
from .numpy_api import (
    _NOT_GIVEN,
    _on_concrete,
    _refuse,
    expand_dims,
    handles,
    norm,
    reshape,
    transpose,
)
from .registry import OPS, explicit
from .shapes import align, ndim_of, normalize_axis, shape_of, size_of, unbroadcast

try:  # numpy's result types (namedtuples), so results unpack and read as numpy's do
    from numpy.linalg._linalg import EighResult, QRResult, SlogdetResult, SVDResult
except ImportError:  # pragma: no cover  (numpy < 2)
    from collections import namedtuple

    EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
    QRResult = namedtuple("QRResult", "Q R")
    SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
    SVDResult = namedtuple("SVDResult", "U S Vh")


# -- helpers (numpy calls only, so traced values pass through them) ---------------------


def _asarray(x: Any) -> Any:
    return x if isinstance(x, Tracer) else np.asarray(x)


def _mT(x):
    """Swap the last two axes (the matrix transpose of every matrix of a stack)."""
    return np.swapaxes(x, -1, -2)


def _eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=result_dtype(like))


def _diag(m):
    """The diagonal of each matrix: (..., n, n) -> (..., n)."""
    return np.sum(m * _eye(shape_of(m)[-1], m), axis=-1)


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    return np.expand_dims(v, -1) * _eye(shape_of(v)[-1], v)


def _tril(x, k: int = 0):
    n, m = shape_of(x)[-2:]
    return np.where(np.tri(n, m, k, dtype=bool), x, 0.0)


def _rows(x, start: int, stop: int | None):
    return x[..., start:stop, :]


def _solve(a, b):
    """a^-1 b for b of (..., M, K): the solve op (differentiable when traced)."""
    return OPS["solve"](a, b)


def _inv(a):
    return OPS["inv"](a)


def _stack(shapes, i: int = 0) -> int:
    return size_of(shapes[i][:-2])


def _read_symmetric(t, uplo: str):
    """The symmetric matrix numpy reads from the lower (uplo 'L') or upper triangle."""
    if uplo == "U":
        return _mT(_read_symmetric(_mT(t), "L"))
    return _tril(t) + _mT(_tril(t, -1))


def _read_symmetric_adjoint(g, uplo: str):
    """The transpose of ``_read_symmetric``: cotangents only reach the triangle read."""
    if uplo == "U":
        return _mT(_read_symmetric_adjoint(_mT(g), "L"))
    return _tril(g) + _tril(_mT(g), -1)


def _tolerance(vals, size: int) -> np.ndarray:
    """Values closer than this are numerically indistinguishable (numpy's matrix_rank
    tolerance): size * eps * max|v| per matrix."""
    v = np.asarray(concrete(vals))
    scale = np.max(np.abs(v), axis=-1, keepdims=True, initial=0.0)
    return max(size, 1) * np.finfo(v.dtype).eps * scale


def _ties(vals, tol) -> np.ndarray:
    """Whether each value equals its successor (the values are sorted)."""
    v = np.asarray(concrete(vals))
    return np.abs(np.diff(v, axis=-1)) <= tol


def _cluster_mean(t, vals, tol):
    """Each entry of t (..., n) replaced by the mean over its cluster of tied values:
    the even split of a derivative at repeated eigenvalues (as ties split for max)."""
    tied = _ties(vals, tol)
    if not tied.any():
        return t
    v = np.asarray(concrete(vals))
    first = np.zeros(v.shape[:-1] + (1,), dtype=int)
    labels = np.concatenate([first, np.cumsum(~tied, axis=-1)], axis=-1)
    same = labels[..., :, None] == labels[..., None, :]
    mean = (same / np.sum(same, axis=-1, keepdims=True)).astype(result_dtype(t))
    return np.sum(np.expand_dims(t, -2) * mean, axis=-1)


def _inverse_gaps(vals, func: str, squared: bool = False):
    """F[i, j] = 1 / (v[j] - v[i]) off the diagonal, 0 on it (of squares if asked):
    what eigenvector derivatives divide by. Raises where two values are tied."""
    tol = _tolerance(vals, shape_of(vals)[-1])
    if _ties(vals, tol).any():
        raise LinAlgError(
            f"np.linalg.{func}: the derivative of the vectors is undefined at repeated "
            f"values (the vectors of a repeated eigenvalue or singular value are any basis "
            f"of its space). Differentiate only the values (np.linalg.eigvalsh, "
            f"np.linalg.svd(..., compute_uv=False)) or quantities invariant within the "
            f"eigenspace (such as V @ diag(f(w)) @ V.T written with distinct values).")
    v = vals * vals if squared else vals
    gaps = np.expand_dims(v, -2) - np.expand_dims(v, -1)
    off = ~np.eye(shape_of(vals)[-1], dtype=bool)
    return np.where(off, 1.0 / np.where(off, gaps, 1.0), 0.0)


def _is_zero_constant(x) -> bool:
    """A cotangent that is zeros without a derivative of its own (plain, or wrapped only
    to count the rule's arithmetic): nothing flows through it, at any order."""
    from .counting import _Counted  # (counting imports numpy_api, which imports this)

    while type(x) is _Counted:
        x = x.primal
    return not isinstance(x, Tracer) and not np.any(x)


def _square(func: str, a) -> int:
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least "
                          f"two-dimensional")
    if shape[-1] != shape[-2]:
        raise LinAlgError("Last 2 dimensions of the array must be square")
    return shape[-1]


# -- inv ----------------------------------------------------------------------------------


def _inv_jvp(primals, tangents, out):
    (t,) = tangents
    return -(out @ t @ out)


def _inv_vjp(ct, primals, out):
    xt = _mT(out)
    return -(xt @ ct @ xt)


explicit("inv", np.linalg.inv, _inv_jvp, _inv_vjp,
         flops=lambda s, p: 2 * _stack(s) * s[0][-1] ** 3, cost="2 * n^3",
         doc="d(A^-1) = -A^-1 dA A^-1")


@handles(np.linalg.inv)
def inv(a):
    """np.linalg.inv; a singular matrix raises numpy's LinAlgError."""
    return _inv(_asarray(a))


# -- solve --------------------------------------------------------------------------------


def _solve_jvp(primals, tangents, out):
    a, b = primals
    ta, tb = tangents
    nd = ndim_of(out)
    rhs = None if tb is None else align(tb, ndim_of(b), nd)
    if ta is not None:
        term = -(align(ta, ndim_of(a), nd) @ out)
        rhs = term if rhs is None else rhs + term
    return _solve(a, rhs)


def _solve_vjp(ct, primals, out):
    a, b = primals
    nd = ndim_of(out)
    gb = _solve(_mT(a), ct)
    ga = -(gb @ _mT(out))
    return unbroadcast(ga, shape_of(a), nd), unbroadcast(gb, shape_of(b), nd)


def _solve_flops(shapes, params):
    n, k = shapes[1][-2], shapes[1][-1]
    stack = size_of(np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]))
    return stack * (2 * n ** 3 // 3 + 2 * n * n * k)


explicit("solve", np.linalg.solve, _solve_jvp, _solve_vjp, flops=_solve_flops,
         cost="2/3 n^3 + 2 n^2 k", doc="x = A^-1 B for B of (..., M, K)")


@handles(np.linalg.solve)
def solve(a, b):
    """np.linalg.solve with numpy 2's rule: b is a vector only when it is 1-D."""
    a, b = _asarray(a), _asarray(b)
    if ndim_of(b) == 1:
        return OPS["solve"](a, expand_dims(b, -1))[..., 0]
    return OPS["solve"](a, b)


# -- det and slogdet --------------------------------------------------------------------

# det's derivative by det(A) inv(A)^T only where that is accurate: beyond this condition
# number the cofactors are taken from the minors, which are exact at singular matrices
_COND_FOR_INVERSE = 1e6
_MAX_MINORS = 12  # n^2 determinants of minors: beyond this size, too slow to be a fallback


def _cofactors_by_minors(a):
    """The cofactor matrix from the (n-1) x (n-1) minors: defined and exact for every
    matrix, singular ones included, and differentiable (dets of minors) to any order."""
    n = shape_of(a)[-1]
    if n == 0:
        return a
    if n == 1:
        return a * 0.0 + 1.0
    others = np.array([[k for k in range(n) if k != i] for i in range(n)])
    minors = a[..., others[:, None, :, None], others[None, :, None, :]]
    dets = OPS["det"](minors)
    even = (np.arange(n)[:, None] + np.arange(n)[None, :]) % 2 == 0
    return np.where(even, dets, -dets)


def _cofactors(a, det):
    n = shape_of(a)[-1]
    if n <= 3:
        return _cofactors_by_minors(a)
    c = np.asarray(concrete(a))
    if c.size and np.max(np.linalg.cond(c)) > _COND_FOR_INVERSE:
        if n > _MAX_MINORS:
            raise LinAlgError(
                f"np.linalg.det: the derivative at a nearly singular {n} x {n} matrix "
                f"needs its cofactors from minors, which admodes does only up to "
                f"{_MAX_MINORS} x {_MAX_MINORS}")
        return _cofactors_by_minors(a)
    return np.expand_dims(det, (-2, -1)) * _mT(_inv(a))


def _det_jvp(primals, tangents, out):
    (a,), (t,) = primals, tangents
    return np.sum(_cofactors(a, out) * t, axis=(-2, -1))


def _det_vjp(ct, primals, out):
    (a,) = primals
    return np.expand_dims(ct, (-2, -1)) * _cofactors(a, out)


explicit("det", np.linalg.det, _det_jvp, _det_vjp,
         flops=lambda s, p: 2 * _stack(s) * s[0][-1] ** 3 // 3, cost="2/3 n^3",
         doc="d det = <cofactors, dA>")


@handles(np.linalg.det)
def det(a):
    """np.linalg.det; its derivative is the cofactor matrix, singular matrices too."""
    return OPS["det"](_asarray(a))


def _inverse_transpose_nonsingular(a, func: str):
    c = np.asarray(concrete(a))
    if c.size and np.any(np.linalg.slogdet(c).sign == 0):
        raise LinAlgError(f"np.linalg.{func}: the matrix is singular, where log|det| is "
                          f"-inf and has no derivative")
    return _mT(_inv(a))


def _slogdet_jvp(primals, tangents, out):
    (a,), (t,) = primals, tangents
    return np.sum(_inverse_transpose_nonsingular(a, "slogdet") * t, axis=(-2, -1))


def _slogdet_vjp(ct, primals, out):
    (a,) = primals
    return np.expand_dims(ct, (-2, -1)) * _inverse_transpose_nonsingular(a, "slogdet")


explicit("slogdet", lambda a: np.linalg.slogdet(a).logabsdet, _slogdet_jvp, _slogdet_vjp,
         flops=lambda s, p: 2 * _stack(s) * s[0][-1] ** 3 // 3, cost="2/3 n^3",
         doc="log|det A| (the sign has no derivative)")


@handles(np.linalg.slogdet)
def slogdet(a):
    """np.linalg.slogdet: (sign, logabsdet); the sign is constant (no derivative)."""
    a = _asarray(a)
    sign = np.linalg.slogdet(concrete(a)).sign
    return SlogdetResult(sign, OPS["slogdet"](a))


# -- cholesky -----------------------------------------------------------------------------


def _phi(x):
    """The lower triangle with half the diagonal."""
    return _tril(x, -1) + 0.5 * x * _eye(shape_of(x)[-1], x)


def _cholesky_jvp(primals, tangents, out):
    (t,) = tangents
    s = _read_symmetric(t, "L")
    y = _solve(out, s)  # L^-1 S
    x = _mT(_solve(out, _mT(y)))  # L^-1 S L^-T
    return out @ _phi(x)


def _cholesky_vjp(ct, primals, out):
    lt = _mT(out)
    p = _phi(lt @ ct)
    g = _solve(lt, p)  # L^-T phi(L^T Lbar)
    g = _mT(_solve(lt, _mT(g)))  # ... L^-1
    return _read_symmetric_adjoint(g, "L")


explicit("cholesky", np.linalg.cholesky, _cholesky_jvp, _cholesky_vjp,
         flops=lambda s, p: _stack(s) * s[0][-1] ** 3 // 3, cost="n^3 / 3",
         doc="lower Cholesky factor, from the lower triangle")


@handles(np.linalg.cholesky)
def cholesky(a, /, *, upper=False):
    """np.linalg.cholesky: reads the lower triangle (upper=True: the upper one, and
    returns U = L^T); a matrix that is not positive definite raises numpy's error."""
    a = _asarray(a)
    if upper:
        return _mT(OPS["cholesky"](_mT(a)))
    return OPS["cholesky"](a)


# -- eigh and eigvalsh --------------------------------------------------------------------


def _eigh_impl(a, uplo):
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return np.concatenate([w[..., None, :], v], axis=-2)


def _eigh_parts(out):
    return _rows(out, 0, 1)[..., 0, :], _rows(out, 1, None)


def _eigh_jvp(primals, tangents, out, uplo):
    (t,) = tangents
    w, v = _eigh_parts(out)
    n = shape_of(w)[-1]
    m = _mT(v) @ _read_symmetric(t, uplo) @ v
    dw = _cluster_mean(_diag(m), w, _tolerance(w, n))
    dv = v @ (_inverse_gaps(w, "eigh") * m)
    return np.concatenate([np.expand_dims(dw, -2), dv], axis=-2)


def _eigh_vjp(ct, primals, out, uplo):
    w, v = _eigh_parts(out)
    n = shape_of(w)[-1]
    ct_w, ct_v = _eigh_parts(ct)
    inner = _diag_embed(_cluster_mean(ct_w, w, _tolerance(w, n)))
    if not _is_zero_constant(ct_v):
        inner = inner + _inverse_gaps(w, "eigh") * (_mT(v) @ ct_v)
    return _read_symmetric_adjoint(v @ inner @ _mT(v), uplo)


def _eig_flops(shapes, params):
    return 9 * _stack(shapes) * shapes[0][-1] ** 3


explicit("eigh", _eigh_impl, _eigh_jvp, _eigh_vjp, flops=_eig_flops, cost="9 n^3",
         doc="eigenvalues and eigenvectors of a symmetric matrix, packed [w; V]")


def _eigvalsh_vectors(a, uplo):
    return _eigh_parts(OPS["eigh"](a, uplo=uplo))[1]


def _eigvalsh_jvp(primals, tangents, out, uplo):
    (a,), (t,) = primals, tangents
    v = _eigvalsh_vectors(a, uplo)
    dw = np.sum(v * (_read_symmetric(t, uplo) @ v), axis=-2)  # diag(V^T dA V)
    return _cluster_mean(dw, out, _tolerance(out, shape_of(out)[-1]))


def _eigvalsh_vjp(ct, primals, out, uplo):
    (a,) = primals
    v = _eigvalsh_vectors(a, uplo)
    ct = _cluster_mean(ct, out, _tolerance(out, shape_of(out)[-1]))
    return _read_symmetric_adjoint((v * np.expand_dims(ct, -2)) @ _mT(v), uplo)


explicit("eigvalsh", lambda a, uplo: np.linalg.eigvalsh(a, UPLO=uplo), _eigvalsh_jvp,
         _eigvalsh_vjp, flops=_eig_flops, cost="9 n^3",
         doc="eigenvalues of a symmetric matrix; repeated ones split the derivative")


def _check_uplo(uplo):
    if uplo not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return uplo


@handles(np.linalg.eigh)
def eigh(a, UPLO="L"):
    """np.linalg.eigh: (eigenvalues, eigenvectors) from the UPLO triangle. The
    eigenvector derivative raises at repeated eigenvalues (see the module docstring)."""
    a = _asarray(a)
    _square("eigh", a)
    w, v = _eigh_parts(OPS["eigh"](a, uplo=_check_uplo(UPLO)))
    return EighResult(w, v)


@handles(np.linalg.eigvalsh)
def eigvalsh(a, UPLO="L"):
    """np.linalg.eigvalsh; at repeated eigenvalues each gets its cluster's mean."""
    a = _asarray(a)
    _square("eigvalsh", a)
    return OPS["eigvalsh"](a, uplo=_check_uplo(UPLO))


# -- svd and singular values --------------------------------------------------------------


def _svd_impl(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([u, s[..., None, :], np.swapaxes(vh, -1, -2)], axis=-2)


def _svd_parts(out, m: int):
    """[U; s; V] -> U (..., M, K), s (..., K), V (..., N, K)."""
    return _rows(out, 0, m), _rows(out, m, m + 1)[..., 0, :], _rows(out, m + 1, None)


def _singular_tolerance(s, m: int, n: int):
    return _tolerance(s, max(m, n))


def _singular_value_derivative(ds, s, m: int, n: int):
    """Ties split evenly; a zero singular value (a kink, like |x|) gets derivative 0."""
    tol = _singular_tolerance(s, m, n)
    ds = _cluster_mean(ds, s, tol)
    zero = np.asarray(concrete(s)) <= tol
    return np.where(zero, 0.0, ds) if zero.any() else ds


def _svd_vector_gaps(s, m: int, n: int):
    tol = _singular_tolerance(s, m, n)
    if np.any(np.asarray(concrete(s)) <= tol):
        raise LinAlgError("np.linalg.svd: the derivative of the singular vectors is "
                          "undefined at a zero singular value (a rank-deficient matrix); "
                          "differentiate only the singular values (compute_uv=False)")
    return _inverse_gaps(s, "svd", squared=True)


def _svd_jvp(primals, tangents, out):
    (a,), (t,) = primals, tangents
    m, n = shape_of(a)[-2:]
    u, s, v = _svd_parts(out, m)
    k = shape_of(s)[-1]
    f = _svd_vector_gaps(s, m, n)
    dp = _mT(u) @ t @ v  # (..., K, K)
    dpt = _mT(dp)
    sr, sc = np.expand_dims(s, -2), np.expand_dims(s, -1)  # s along rows, along columns
    ds = _singular_value_derivative(_diag(dp), s, m, n)
    du = u @ (f * (dp * sr + sc * dpt))
    dv = v @ (f * (sc * dp + dpt * sr))
    if m > k:
        tv = t @ v
        du = du + (tv - u @ (_mT(u) @ tv)) / sr
    if n > k:
        tu = _mT(t) @ u
        dv = dv + (tu - v @ (_mT(v) @ tu)) / sr
    return np.concatenate([du, np.expand_dims(ds, -2), dv], axis=-2)


def _svd_vjp(ct, primals, out):
    (a,) = primals
    m, n = shape_of(a)[-2:]
    u, s, v = _svd_parts(out, m)
    k = shape_of(s)[-1]
    ct_u, ct_s, ct_v = _svd_parts(ct, m)
    inner = _diag_embed(_singular_value_derivative(ct_s, s, m, n))
    sr, sc = np.expand_dims(s, -2), np.expand_dims(s, -1)
    vectors = not (_is_zero_constant(ct_u) and _is_zero_constant(ct_v))
    if vectors:
        f = _svd_vector_gaps(s, m, n)
        utu, vtv = _mT(u) @ ct_u, _mT(v) @ ct_v
        inner = inner + (f * (utu - _mT(utu))) * sr + sc * (f * (vtv - _mT(vtv)))
    g = u @ inner @ _mT(v)
    if vectors and m > k:
        g = g + ((ct_u - u @ (_mT(u) @ ct_u)) / sr) @ _mT(v)
    if vectors and n > k:
        g = g + u @ (_mT(ct_v - v @ (_mT(v) @ ct_v)) / sc)
    return g


def _svd_flops(shapes, params):
    m, n = shapes[0][-2:]
    return _stack(shapes) * (4 * m * n * min(m, n) + 8 * min(m, n) ** 3)


explicit("svd", _svd_impl, _svd_jvp, _svd_vjp, flops=_svd_flops, cost="4 m n k + 8 k^3",
         doc="reduced SVD, packed [U; s; V] (V = Vh^T)")


def _svdvals_vectors(a):
    m = shape_of(a)[-2]
    u, _, v = _svd_parts(OPS["svd"](a), m)
    return u, v


def _svdvals_jvp(primals, tangents, out):
    (a,), (t,) = primals, tangents
    m, n = shape_of(a)[-2:]
    u, v = _svdvals_vectors(a)
    ds = np.sum(u * (t @ v), axis=-2)  # diag(U^T dA V)
    return _singular_value_derivative(ds, out, m, n)


def _svdvals_vjp(ct, primals, out):
    (a,) = primals
    m, n = shape_of(a)[-2:]
    u, v = _svdvals_vectors(a)
    ct = _singular_value_derivative(ct, out, m, n)
    return (u * np.expand_dims(ct, -2)) @ _mT(v)


explicit("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), _svdvals_jvp,
         _svdvals_vjp, flops=_svd_flops, cost="4 m n k + 8 k^3",
         doc="singular values; ties split the derivative, a zero one has derivative 0")


def _at_least_2d(func: str, a) -> None:
    if ndim_of(a) < 2:
        raise LinAlgError(f"{ndim_of(a)}-dimensional array given. Array must be at least "
                          f"two-dimensional")


@handles(np.linalg.svd)
def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """np.linalg.svd: the reduced SVD (full_matrices=True only where it is the same: a
    square matrix), or the singular values with compute_uv=False."""
    a = _asarray(a)
    _at_least_2d("svd", a)
    _refuse("np.linalg.svd", hermitian=bool(hermitian))
    if not compute_uv:
        return OPS["svdvals"](a)
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        raise TypeError("np.linalg.svd(..., full_matrices=True) of a non-square matrix is "
                        "not supported on traced values: the extra singular vectors have "
                        "no derivative; pass full_matrices=False")
    u, s, v = _svd_parts(OPS["svd"](a), m)
    return SVDResult(u, s, _mT(v))


if hasattr(np.linalg, "svdvals"):
    @handles(np.linalg.svdvals)
    def svdvals(x, /):
        """np.linalg.svdvals (numpy >= 2)."""
        x = _asarray(x)
        _at_least_2d("svdvals", x)
        return OPS["svdvals"](x)


# -- qr -----------------------------------------------------------------------------------


def _qr_impl(a):
    q, r = np.linalg.qr(a)
    return np.concatenate([q, r], axis=-2)


def _qr_parts(out, m: int):
    return _rows(out, 0, m), _rows(out, m, None)


def _check_full_rank_r(r):
    d = np.abs(np.asarray(concrete(_diag(r))))
    tol = _tolerance(d, shape_of(r)[-1]) if d.size else 0.0
    if d.size and np.any(d <= tol):
        raise LinAlgError("np.linalg.qr: the derivative needs full column rank (R has a "
                          "zero on its diagonal)")


def _right_divide_r(x, r):
    """x R^-1 = (R^-T x^T)^T."""
    return _mT(_solve(_mT(r), _mT(x)))


def _qr_jvp(primals, tangents, out):
    (a,), (t,) = primals, tangents
    m, n = shape_of(a)[-2:]
    q, r = _qr_parts(out, m)
    _check_full_rank_r(r)
    y = _right_divide_r(t, r)  # dA R^-1
    c = _mT(q) @ y
    low = _tril(c, -1)
    omega = low - _mT(low)
    dr = (c - omega) @ r
    dq = q @ omega
    if m > n:
        dq = dq + (y - q @ c)
    return np.concatenate([dq, dr], axis=-2)


def _qr_vjp(ct, primals, out):
    (a,) = primals
    m, n = shape_of(a)[-2:]
    q, r = _qr_parts(out, m)
    _check_full_rank_r(r)
    ct_q, ct_r = _qr_parts(ct, m)
    b = ct_r @ _mT(r) - _mT(q) @ ct_q
    e = b - _tril(b - _mT(b), -1)
    x = ct_q + q @ e
    return _mT(_solve(r, _mT(x)))  # x R^-T


explicit("qr", _qr_impl, _qr_jvp, _qr_vjp,
         flops=lambda s, p: _stack(s) * 2 * s[0][-2] * s[0][-1] ** 2, cost="2 m n^2",
         doc="reduced QR of a tall matrix (M >= N), packed [Q; R]")


@handles(np.linalg.qr)
def qr(a, mode="reduced"):
    """np.linalg.qr for M >= N: mode 'reduced' (Q, R), 'r' (R), and 'complete' only
    where it is 'reduced' (a square matrix). 'raw' and wide matrices are refused."""
    a = _asarray(a)
    _at_least_2d("qr", a)
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    m, n = shape_of(a)[-2:]
    if mode == "raw" or (mode == "complete" and m != n):
        raise TypeError(f"np.linalg.qr(..., mode={mode!r}) is not supported on traced "
                        f"values: admodes implements mode='reduced' and mode='r'")
    if m < n:
        raise TypeError(f"np.linalg.qr of a wide matrix ({m} x {n}, M < N) is not "
                        f"supported on traced values: its R has no invertible square "
                        f"part; use np.linalg.qr of the transpose")
    q, r = _qr_parts(OPS["qr"](a), m)
    return r if mode == "r" else QRResult(q, r)


# -- pinv and lstsq -----------------------------------------------------------------------


def _check_full_rank(a, rcond, func: str) -> None:
    """The derivative exists only where the rank cannot change (full rank): refuse
    where numpy's cutoff drops a singular value."""
    c = np.asarray(concrete(a))
    if c.size == 0:
        return
    s = np.linalg.svd(c, compute_uv=False)
    cutoff = np.asarray(rcond)[..., None] * np.max(s, axis=-1, keepdims=True)
    if np.any(s <= cutoff):
        raise LinAlgError(f"np.linalg.{func}: the matrix is rank deficient (numpy's cutoff "
                          f"drops a singular value), where the pseudo-inverse jumps and has "
                          f"no derivative; admodes differentiates the full-rank case")


def _pinv_jvp(primals, tangents, out, rcond):
    (a,), (t,) = primals, tangents
    _check_full_rank(a, rcond, "pinv")
    m, n = shape_of(a)[-2:]
    p, tt = out, _mT(t)
    d = -(p @ t @ p)
    if m > n:  # + P P^T dA^T (I - A P)
        d = d + (p @ _mT(p)) @ (tt - (tt @ a) @ p)
    if n > m:  # + (I - P A) dA^T P^T P
        d = d + (tt - p @ (a @ tt)) @ (_mT(p) @ p)
    return d


def _pinv_vjp(ct, primals, out, rcond):
    (a,) = primals
    _check_full_rank(a, rcond, "pinv")
    m, n = shape_of(a)[-2:]
    p, pt, ctt = out, _mT(out), _mT(ct)
    g = -(pt @ ct @ pt)
    if m > n:  # (I - A P) ct^T P P^T
        x = ctt @ (p @ pt)
        g = g + (x - a @ (p @ x))
    if n > m:  # P^T P ct^T (I - P A)
        x = (pt @ p) @ ctt
        g = g + (x - (x @ p) @ a)
    return g


explicit("pinv", lambda a, rcond: np.linalg.pinv(a, rcond=rcond), _pinv_jvp, _pinv_vjp,
         flops=_svd_flops, cost="4 m n k + 8 k^3",
         doc="Moore-Penrose pseudo-inverse (derivative: full rank only)")


@handles(np.linalg.pinv)
def pinv(a, rcond=None, hermitian=False, *, rtol=_NOT_GIVEN):
    """np.linalg.pinv with numpy's cutoff; its derivative needs full rank (LinAlgError
    otherwise: at rank deficiency the pseudo-inverse is discontinuous)."""
    a = _asarray(a)
    _refuse("np.linalg.pinv", hermitian=bool(hermitian))
    if rcond is None:
        if rtol is _NOT_GIVEN:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(shape_of(a)[-2:]) * np.finfo(result_dtype(a)).eps
        else:
            rcond = rtol
    elif rtol is not _NOT_GIVEN:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    if isinstance(rcond, Tracer):
        raise TypeError("np.linalg.pinv(..., rcond=...) must be a constant, not traced")
    return OPS["pinv"](a, rcond=rcond)


def _lstsq_jvp(primals, tangents, out, rcond):
    a, b = primals
    ta, tb = tangents
    _check_full_rank(a, rcond, "lstsq")
    m, n = shape_of(a)
    p = OPS["pinv"](a, rcond=0.0)
    rhs = -(ta @ out) if ta is not None else None
    if tb is not None:
        rhs = tb if rhs is None else rhs + tb
    dx = p @ rhs
    if ta is not None:
        tat = _mT(ta)
        if m > n:  # + P P^T dA^T r, r = b - A x
            dx = dx + (p @ _mT(p)) @ (tat @ (b - a @ out))
        if n > m:  # + (I - P A) dA^T P^T x
            y = tat @ (_mT(p) @ out)
            dx = dx + (y - p @ (a @ y))
    return dx


def _lstsq_vjp(ct, primals, out, rcond):
    a, b = primals
    _check_full_rank(a, rcond, "lstsq")
    m, n = shape_of(a)
    p = OPS["pinv"](a, rcond=0.0)
    pt = _mT(p)
    gb = pt @ ct
    ga = -(gb @ _mT(out))
    if m > n:  # r ct^T P P^T
        ga = ga + (b - a @ out) @ (_mT(ct) @ (p @ pt))
    if n > m:  # P^T x ct^T (I - P A)
        y = (pt @ out) @ _mT(ct)
        ga = ga + (y - (y @ p) @ a)
    return ga, gb


explicit("lstsq", lambda a, b, rcond: np.linalg.lstsq(a, b, rcond=rcond)[0], _lstsq_jvp,
         _lstsq_vjp, flops=lambda s, p: 2 * s[0][0] * s[0][1] ** 2 + 2 * s[0][0] * s[
             0][1] * s[1][-1], cost="2 m n^2 + 2 m n k",
         doc="least-squares solution x of a x = b (full rank)")


def _keep_value(value, traced):
    """numpy's ``value``, with the derivative of ``traced`` (a formula for the same
    quantity, equal up to rounding): value + (traced - traced's own value)."""
    if not isinstance(traced, Tracer):
        return value
    return value + (traced - concrete(traced))


@handles(np.linalg.lstsq)
def lstsq(a, b, rcond=None):
    """np.linalg.lstsq: (x, residuals, rank, s) as numpy gives them; x, the residuals
    and s carry derivatives (full rank required), the rank is an integer."""
    a, b = _asarray(a), _asarray(b)
    if isinstance(rcond, Tracer):
        raise TypeError("np.linalg.lstsq(..., rcond=...) must be a constant, not traced")
    x0, resid0, rank, s0 = np.linalg.lstsq(concrete(a), concrete(b), rcond)
    m, n = shape_of(a)
    if rcond is None:
        rcond = np.finfo(result_dtype(x0)).eps * max(m, n)
    vector = ndim_of(b) == 1
    b2 = expand_dims(b, -1) if vector else b
    x = OPS["lstsq"](a, b2, rcond=rcond)
    resid = resid0
    if size_of(shape_of(resid0)):  # full rank and m > n: the squared residual norms
        r = b2 - a @ x
        resid = _keep_value(resid0, np.sum(r * r, axis=0))
    s = _keep_value(s0, OPS["svdvals"](a)) if size_of(shape_of(a)) else s0
    return (x[..., 0] if vector else x), resid, rank, s


# -- matrix_power, matrix_rank, cond ------------------------------------------------------


@handles(np.linalg.matrix_power)
def matrix_power(a, n):
    """np.linalg.matrix_power: binary powering by matmul; n < 0 inverts first; n = 0 is
    the identity (a constant)."""
    a = _asarray(a)
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError as e:
        raise TypeError("exponent must be an integer") from e
    if n == 0:
        return np.broadcast_to(_eye(shape_of(a)[-1], a), shape_of(a)).copy()
    if n < 0:
        a, n = _inv(a), -n
    if n == 3:  # numpy's own order of the products (the same rounding)
        return (a @ a) @ a
    result = None
    power = a
    while True:  # the bits of n, lowest first: a, a^2, a^4, ... multiplied in as needed
        if n & 1:
            result = power if result is None else result @ power
        n >>= 1
        if not n:
            return result
        power = power @ power


# an integer result, no derivative: numpy's own value from the plain values
handles(np.linalg.matrix_rank)(_on_concrete(np.linalg.matrix_rank, "np.linalg.matrix_rank"))


@handles(np.linalg.cond)
def cond(x, p=None):
    """np.linalg.cond: via the singular values (p None, 2, -2) or norm(x) norm(inv(x)).
    A numerically singular matrix raises: numpy's value there is inf or rounding noise
    divided by rounding noise, and has no derivative."""
    x = _asarray(x)
    c = np.asarray(concrete(x))
    _at_least_2d("cond", c)
    if c.size:
        s = np.linalg.svd(c, compute_uv=False)
        if np.any(s[..., -1:] <= _tolerance(s, max(c.shape[-2:]))):
            raise LinAlgError("np.linalg.cond of a (numerically) singular matrix is inf, "
                              "which has no derivative")
    if p is None or p == 2 or p == -2:
        s = OPS["svdvals"](x)
        big, small = s[..., 0], s[..., -1]
        return small / big if p == -2 else big / small
    _square("cond", x)
    return norm(x, p, axis=(-2, -1)) * norm(_inv(x), p, axis=(-2, -1))


if hasattr(np.linalg, "vector_norm"):
    @handles(np.linalg.vector_norm)
    def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
        """np.linalg.vector_norm: the vector norm over any axes (all of them by default),
        as numpy computes it: those axes moved to the front and merged into one."""
        x = _asarray(x)
        shape = shape_of(x)
        nd = len(shape)
        if axis is None:
            axes = tuple(range(nd))
        elif isinstance(axis, tuple):
            axes = tuple(a % nd for a in normalize_axis(axis, nd))
        else:
            axes = None
        if axes is None:  # one axis: np.linalg.norm's vector norm
            res = norm(x, ord, axis=axis)
            axes = tuple(a % nd for a in normalize_axis(axis, nd))
        else:
            rest = tuple(i for i in range(nd) if i not in axes)
            moved = transpose(x, axes + rest) if axes + rest != tuple(range(nd)) else x
            merged = reshape(moved, (size_of(tuple(shape[i] for i in axes)),)
                             + tuple(shape[i] for i in rest))
            res = norm(merged, ord, axis=0)
        if keepdims:
            res = reshape(res, tuple(1 if i in axes else n for i, n in enumerate(shape)))
        return res


if hasattr(np.linalg, "matrix_norm"):
    @handles(np.linalg.matrix_norm)
    def matrix_norm(x, /, *, keepdims=False, ord="fro"):
        """np.linalg.matrix_norm: np.linalg.norm over the last two axes."""
        x = _asarray(x)
        _at_least_2d("matrix_norm", x)
        return norm(x, ord, axis=(-2, -1), keepdims=keepdims)
