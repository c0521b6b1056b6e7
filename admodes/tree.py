"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and back.

A model's parameters as a list of (W, b) pairs are a pytree; so are a function's arguments.
``None`` is an empty subtree, and a dict's entries are taken in sorted key order, as in JAX:
two dicts with the same keys have the same structure whatever order they were built in.
Flattening and rebuilding are loops over an explicit stack, not recursion, so a tree of any
depth works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Leaf = object()
_LEAF_NODE = (Leaf, None, 0)
_NONE_NODE = (None, None, 0)


class TreeDef:
    """The structure of a pytree without its leaves: its nodes in preorder, each as
    ``(kind, dict keys or None, number of children)``."""

    __slots__ = ("nodes", "n_leaves")

    def __init__(self, nodes: tuple[tuple[Any, Any, int], ...], n_leaves: int) -> None:
        self.nodes = nodes
        self.n_leaves = n_leaves

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and self.nodes == other.nodes

    def __hash__(self) -> int:
        return hash(self.nodes)

    def __repr__(self) -> str:
        def show(node: tuple[Any, Any, int], children: list[str]) -> str:
            kind, keys, _ = node
            if kind is Leaf:
                return "*"
            if kind is None:
                return "None"
            if kind is dict:
                return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, children)) + "}"
            return f"{kind.__name__}({', '.join(children)})"

        return _fold(self.nodes, iter(()), show, leaf=lambda _: "*")


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys of mixed types: still one order for equal key sets
        return tuple(sorted(d, key=repr))


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """Leaves in a fixed order, and the structure to rebuild the tree from them."""
    leaves: list[Any] = []
    nodes: list[tuple[Any, Any, int]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (tuple, list)):
            nodes.append((type(node), None, len(node)))
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            keys = _sorted_keys(node)
            nodes.append((dict, keys, len(keys)))
            stack.extend(node[k] for k in reversed(keys))
        elif node is None:
            nodes.append(_NONE_NODE)
        else:
            nodes.append(_LEAF_NODE)
            leaves.append(node)
    return leaves, TreeDef(tuple(nodes), len(leaves))


def _build(node: tuple[Any, Any, int], children: list[Any]) -> Any:
    kind, keys, _ = node
    if kind is None:
        return None
    if kind is dict:
        return dict(zip(keys, children))
    if kind is tuple or kind is list:
        return kind(children)
    if hasattr(kind, "_fields"):  # namedtuple
        return kind(*children)
    return kind(children)


def _fold(nodes, leaves, combine: Callable, leaf: Callable) -> Any:
    """Rebuild bottom-up: walk the preorder nodes backwards, so each node finds its
    children, first child on top, on a stack of finished subtrees."""
    done: list[Any] = []
    for node in reversed(nodes):
        if node[0] is Leaf:
            done.append(leaf(next(leaves, None)))
        else:
            n = node[2]
            children = [done.pop() for _ in range(n)]
            done.append(combine(node, children))
    return done[0] if done else None


def tree_unflatten(treedef: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a tree of ``treedef``'s structure from ``leaves``."""
    leaves = list(leaves)
    if len(leaves) != treedef.n_leaves:
        raise ValueError(f"tree_unflatten: the structure {treedef!r} has "
                         f"{treedef.n_leaves} leaves, got {len(leaves)}")
    return _fold(treedef.nodes, reversed(leaves), _build, leaf=lambda x: x)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` leaf by leaf to trees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map: trees of different structures, {treedef!r} and "
                             f"{r_def!r}")
        others.append(r_leaves)
    return tree_unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])
