"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back.

A model's parameters as a list of (W, b) pairs are a pytree; so are a function's arguments.
``None`` is an empty subtree, as in JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Leaf = object()


class TreeDef:
    """The structure of a pytree without its leaves."""

    __slots__ = ("kind", "meta", "children", "n_leaves")

    def __init__(self, kind: Any, meta: Any, children: tuple[TreeDef, ...]) -> None:
        self.kind = kind
        self.meta = meta
        self.children = children
        self.n_leaves = 1 if kind is Leaf else sum(c.n_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __repr__(self) -> str:
        if self.kind is Leaf:
            return "*"
        if self.kind is None:
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind is dict:
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children))
            return "{" + inner + "}"
        return f"{self.kind.__name__}({inner})"


LEAF = TreeDef(Leaf, None, ())


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Leaves in a fixed order, and the structure to rebuild the tree from them."""
    leaves: list[Any] = []
    return leaves, _flatten_into(tree, leaves)


# Module-level recursion, not a nested closure: a closure that calls itself is a reference
# cycle, which would keep every output (and with it a whole tape) alive until Python's
# cycle collector happens to run.
def _flatten_into(node: Any, leaves: list[Any]) -> TreeDef:
    if isinstance(node, (tuple, list)):
        return TreeDef(type(node), None, tuple(_flatten_into(c, leaves) for c in node))
    if isinstance(node, dict):
        keys = tuple(node)
        return TreeDef(dict, keys, tuple(_flatten_into(node[k], leaves) for k in keys))
    if node is None:
        return TreeDef(None, None, ())
    leaves.append(node)
    return LEAF


def tree_unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a tree of ``treedef``'s structure from ``leaves``."""
    return _build(treedef, iter(leaves))


def _build(d: TreeDef, it: Any) -> Any:
    if d.kind is Leaf:
        return next(it)
    if d.kind is None:
        return None
    children = [_build(c, it) for c in d.children]
    if d.kind is dict:
        return dict(zip(d.meta, children))
    if d.kind is tuple or d.kind is list:
        return d.kind(children)
    if hasattr(d.kind, "_fields"):  # namedtuple
        return d.kind(*children)
    return d.kind(children)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` leaf by leaf to trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = [tree_flatten(r)[0] for r in rest]
    return tree_unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])
