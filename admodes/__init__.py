"""admodes: forward- and reverse-mode automatic differentiation over one op registry."""

from . import forward, nn, reverse, viz  # noqa: E402  (each mode as a library, and the rest)
from . import ops as _ops  # noqa: F401  (declares the built-in ops)
from .api import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .auto import jacobian
from .checks import check_grads
from .core import OpCount, count_ops
from .extend import custom_jvp, defop, undefop
from .registry import OPS, ops_table
from .staging import jit
from .tree import tree_flatten, tree_map, tree_unflatten

__version__ = "0.1.0"

__all__ = [
    "jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "jacobian", "hessian", "hvp",
    "jit",
    "check_grads", "count_ops", "OpCount", "OPS", "ops_table", "defop", "undefop",
    "custom_jvp", "forward", "reverse", "viz", "nn",
    "tree_flatten", "tree_unflatten", "tree_map",
]
