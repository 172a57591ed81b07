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
keys have one structure, whatever their insertion order; an ``OrderedDict`` keeps its own
order, a ``defaultdict`` its factory), ``None`` is an empty container (no leaves), and
anything else (a number, a ``Value``, a ``Dual``, a string) is a leaf.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TreeDef", "flatten", "leaf_paths", "tree_map", "unflatten"]


@dataclass(frozen=True)
class TreeDef:
    """The containers of a structure, without its leaves.

    ``nodes`` lists them in preorder as ``(kind, keys, number of children)``: ``kind`` is
    ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"``, ``"OrderedDict"``,
    ``"defaultdict"`` or ``"namedtuple"``; ``keys`` a dict's keys (a defaultdict's with its
    factory) or a namedtuple's class. A flat tuple, so comparing two
    structures or building one never recurses, however deep it is.
    """

    nodes: tuple[tuple[str, Any, int], ...]
    num_leaves: int

    def __str__(self) -> str:
        return str(unflatten(self, [_Star()] * self.num_leaves))


_LEAF_NODE = ("leaf", None, 0)
_LEAF = TreeDef((_LEAF_NODE,), 1)


# the containers by exact type (a subclass of list or dict is a leaf, as in JAX), so telling a
# number from them takes one lookup; a namedtuple is any tuple whose class has _fields
_KINDS = {tuple: "tuple", list: "list", type(None): "none", dict: "dict",
          OrderedDict: "OrderedDict", defaultdict: "defaultdict"}  # fmt: skip


def _entries(x: Any) -> tuple[str, Any, list[Any]] | None:
    """A container's kind, its keys and its children, in order; None for a leaf."""
    kind = _KINDS.get(type(x))
    if kind is None:
        return None if _is_leaf(x) else ("namedtuple", type(x), list(x))
    if kind == "none":
        return kind, None, []
    if kind in ("tuple", "list"):
        return kind, None, list(x)
    if kind == "OrderedDict":  # its order is part of it, as in JAX
        return kind, tuple(x), list(x.values())
    keys = _sorted_keys(x)
    children = [x[k] for k in keys]
    return (kind, keys, children) if kind == "dict" else (kind, (x.default_factory, keys), children)


def _is_leaf(x: Any) -> bool:
    """Whether ``x`` is a leaf: no container of ``_KINDS`` and no namedtuple (a tuple whose
    class has ``_fields``), told without listing any children."""
    return type(x) not in _KINDS and not (isinstance(x, tuple) and hasattr(type(x), "_fields"))


def _steps(kind: str, keys: Any, n: int) -> list[str]:
    """How a path goes into each child: ``[0]``, ``['w']``, ``.mean``."""
    if kind in ("dict", "OrderedDict", "defaultdict"):
        return [f"[{k!r}]" for k in (keys[1] if kind == "defaultdict" else keys)]
    if kind == "namedtuple":
        return [f".{name}" for name in keys._fields]
    return [f"[{i}]" for i in range(n)]


def _sorted_keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys that do not compare (1 and "a"): insertion order, a fixed one too
        return tuple(d)


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure (iterative: any depth works)."""
    entries = _entries(tree)
    if entries is None:  # a lone number, the common case
        return [tree], _LEAF
    kind, keys, children = entries
    if all(map(_is_leaf, children)):  # one container of numbers (a jvp's primals, say)
        one_level = _one_level_remembered if keys is None else _one_level
        return children, one_level(kind, keys, len(children))
    leaves: list[Any] = []
    nodes: list[tuple[str, Any, int]] = []
    stack = [tree]
    while stack:  # preorder: a container, then its children left to right
        x = stack.pop()
        entries = _entries(x)
        if entries is None:
            nodes.append(_LEAF_NODE)
            leaves.append(x)
        else:
            kind, keys, children = entries
            nodes.append((kind, keys, len(children)))
            stack.extend(reversed(children))
    return leaves, TreeDef(tuple(nodes), len(leaves))


def _one_level(kind: str, keys: Any, n: int) -> TreeDef:
    """The structure of one container of ``n`` leaves."""
    return TreeDef(((kind, keys, n), *[_LEAF_NODE] * n), n)


# a tuple's or a list's (no keys) is made once for each length
_one_level_remembered = functools.lru_cache(maxsize=64)(_one_level)


def leaf_paths(tree: Any, root: str = "") -> list[tuple[str, Any]]:
    """``(path, leaf)`` for each leaf, the path written as Python would index it from
    ``root``: ``params['w'][3]``, ``state.mean``."""
    if _is_leaf(tree):
        return [(root, tree)]
    found = []
    stack: list[tuple[str, Any]] = [(root, tree)]
    while stack:
        where, x = stack.pop()
        entries = _entries(x)
        if entries is None:
            found.append((where, x))
        else:
            kind, keys, children = entries
            steps = _steps(kind, keys, len(children))
            stack.extend((where + step, c) for step, c in zip(reversed(steps), reversed(children)))
    return found


def unflatten(tdef: TreeDef, leaves: Sequence[Any]) -> Any:
    """A structure shaped like ``tdef`` holding ``leaves`` (in :func:`flatten`'s order)."""
    if len(leaves) != tdef.num_leaves:
        raise ValueError(
            f"unflatten: the structure holds {tdef.num_leaves} leaves, got {len(leaves)}"
        )
    if tdef.nodes == (_LEAF_NODE,):  # a lone number
        return leaves[0]
    if len(tdef.nodes) == tdef.num_leaves + 1:  # one container (its root) of numbers
        kind, keys, _ = tdef.nodes[0]
        return _build(kind, keys, list(leaves))
    it = iter(leaves)
    open_: list[tuple[str, Any, int, list[Any]]] = []  # containers still missing children
    done: Any = None
    for kind, keys, n in tdef.nodes:
        if kind != "leaf" and n:
            open_.append((kind, keys, n, []))
            continue
        value = next(it) if kind == "leaf" else _build(kind, keys, [])
        while open_:  # hand the value up, closing every container it completes
            kind, keys, n, kids = open_[-1]
            kids.append(value)
            if len(kids) < n:
                break
            open_.pop()
            value = _build(kind, keys, kids)
        else:
            done = value
    return done


def _build(kind: str, keys: Any, kids: list[Any]) -> Any:
    if kind == "none":
        return None
    if kind == "namedtuple":
        return keys(*kids)
    if kind == "dict":
        return dict(zip(keys, kids))
    if kind == "OrderedDict":
        return OrderedDict(zip(keys, kids))
    if kind == "defaultdict":
        return defaultdict(keys[0], zip(keys[1], kids))
    return tuple(kids) if kind == "tuple" else kids


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``tree`` with ``f`` applied to each leaf; with more trees of the same structure,
    ``f`` takes one leaf of each (``tree_map(lambda p, g: p - 0.1 * g, params, grads)``)."""
    if not rest and _is_leaf(tree):  # a lone number: f of it
        return f(tree)
    leaves, tdef = flatten(tree)
    others = [flatten(t) for t in rest]
    for k, (_, other) in enumerate(others, start=1):
        if other != tdef:
            raise ValueError(f"tree_map: tree {k} is shaped {other}, tree 0 is shaped {tdef}")
    return unflatten(tdef, [f(*xs) for xs in zip(leaves, *(o[0] for o in others))])


class _Star:
    """A leaf's place in a printed structure: ``{'b': *, 'w': [*, *]}``."""

    def __repr__(self) -> str:
        return "*"
