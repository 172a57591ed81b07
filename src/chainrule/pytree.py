"""Pytrees: nested tuples, lists, dicts and namedtuples of numbers, as JAX calls them.

Every transform takes and returns such structures: ``grad(loss)(params)`` with ``params`` a
dict of lists gives a dict of lists of the same shape. :func:`flatten` turns a structure into
its leaves (in a fixed order) and a :class:`TreeDef` that remembers the containers;
:func:`unflatten` puts leaves back::

    >>> leaves, tree = flatten({"w": [1.0, 2.0], "b": 3.0})
    >>> leaves
    [3.0, 1.0, 2.0]
    >>> unflatten(tree, [x * 10 for x in leaves])
    {'b': 30.0, 'w': [10.0, 20.0]}

As in JAX: a dict's leaves come in the order of its sorted keys (so two dicts with the same
keys have one structure, whatever their insertion order), ``None`` is an empty container
(no leaves), and anything else (a number, a ``Value``, a ``Dual``, a string) is a leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TreeDef", "flatten", "leaf_paths", "tree_map", "unflatten"]


@dataclass(frozen=True)
class TreeDef:
    """The containers of a structure, without its leaves.

    ``kind`` is ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"`` or
    ``"namedtuple"``; ``keys`` the dict's sorted keys (or the namedtuple's class);
    ``children`` one TreeDef per entry.
    """

    kind: str
    children: tuple[TreeDef, ...] = ()
    keys: Any = None

    @property
    def num_leaves(self) -> int:
        """How many leaves a structure of this shape holds."""
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __str__(self) -> str:
        return describe(self)


LEAF = TreeDef("leaf")


def _entries(x: Any) -> tuple[str, Any, list[tuple[str, Any]]] | None:
    """A container's kind, its keys and its ``(path step, child)`` pairs; None for a leaf."""
    if x is None:
        return "none", None, []
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return "namedtuple", type(x), [(f".{f}", getattr(x, f)) for f in x._fields]
    if type(x) in (tuple, list):
        return type(x).__name__, None, [(f"[{i}]", c) for i, c in enumerate(x)]
    if type(x) is dict:
        keys = _sorted_keys(x)
        return "dict", keys, [(f"[{k!r}]", x[k]) for k in keys]
    return None


def _sorted_keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys that do not compare (1 and "a"): insertion order, a fixed one too
        return tuple(d)


def _walk(tree: Any, path: str) -> Iterator[tuple[str, Any, TreeDef | None]]:
    """``(path, leaf, None)`` per leaf, and ``(path, None, def)`` after each container."""
    stack: list[tuple[str, Any, bool]] = [(path, tree, False)]
    built: list[TreeDef] = []
    while stack:
        where, x, done = stack.pop()
        entries = _entries(x)
        if entries is None:
            built.append(LEAF)
            yield where, x, None
        elif done:  # its children's defs are the last ones built
            kind, keys, children = entries
            n = len(children)
            kids = tuple(built[len(built) - n :]) if n else ()
            del built[len(built) - n :]
            built.append(TreeDef(kind, kids, keys))
            yield where, None, built[-1]
        else:
            stack.append((where, x, True))
            stack.extend((where + step, c, False) for step, c in reversed(entries[2]))


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure (iterative: any depth works)."""
    leaves: list[Any] = []
    tdef = LEAF
    for _, leaf, made in _walk(tree, ""):
        if made is None:
            leaves.append(leaf)
        else:
            tdef = made
    return leaves, tdef


def leaf_paths(tree: Any, root: str = "") -> list[tuple[str, Any]]:
    """``(path, leaf)`` for each leaf, the path written as Python would index it from
    ``root``: ``params['w'][3]``, ``state.mean``."""
    return [(where, leaf) for where, leaf, made in _walk(tree, root) if made is None]


def unflatten(tdef: TreeDef, leaves: Sequence[Any]) -> Any:
    """A structure shaped like ``tdef`` holding ``leaves`` (in :func:`flatten`'s order)."""
    if len(leaves) != tdef.num_leaves:
        raise ValueError(f"unflatten: {tdef} holds {tdef.num_leaves} leaves, got {len(leaves)}")
    it = iter(leaves)
    # post-order: each container is built from the last of `done`, children first
    stack: list[tuple[TreeDef, bool]] = [(tdef, False)]
    done: list[Any] = []
    while stack:
        node, ready = stack.pop()
        if node.kind == "leaf":
            done.append(next(it))
        elif ready:
            n = len(node.children)
            kids = done[len(done) - n :] if n else []
            del done[len(done) - n :]
            done.append(_build(node, kids))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children))
    return done[0]


def _build(node: TreeDef, kids: list[Any]) -> Any:
    if node.kind == "none":
        return None
    if node.kind == "namedtuple":
        return node.keys(*kids)
    if node.kind == "dict":
        return dict(zip(node.keys, kids))
    return tuple(kids) if node.kind == "tuple" else kids


def tree_map(f: Callable[[Any], Any], tree: Any) -> Any:
    """``tree`` with ``f`` applied to each leaf."""
    leaves, tdef = flatten(tree)
    return unflatten(tdef, [f(x) for x in leaves])


def describe(tdef: TreeDef) -> str:
    """A short picture of a structure: ``{'b': *, 'w': [*, *]}``, ``*`` for each leaf."""
    return str(unflatten(tdef, [_Star()] * tdef.num_leaves))


class _Star:
    def __repr__(self) -> str:
        return "*"
