"""A function's trace: ``f`` run once on Values, with what it made, read and reached.

:func:`~chainrule.compile` and :func:`~chainrule.batched` turn a user's ``f`` into generated
code the same way, and this module holds what they share:

* :func:`recording` watches one run of ``f`` through the engine's hooks only (no method of
  :class:`~chainrule.engine.Value` is replaced): every node ``apply`` makes
  (:data:`~chainrule.engine.NODE_HOOKS`), every ``detach()`` and every read of a number
  (:data:`~chainrule.engine.READ_HOOKS`, the one door from a Value to a Python value), into a
  :class:`Tape`; after the run it counts which leaves only the run holds (literals);
* :class:`TracedGraph` reads a tape: the graph with ``detach()`` seen through, the nodes whose
  number *varies* from call to call (or example to example), the reads that can decide
  otherwise on another call, the nodes the outputs and those reads need (in the order ``f``
  made them), and each leaf the trace uses sorted into an argument, a literal, or an
  *external* leaf (a parameter) read on every call. A node computed before ``f`` was called is
  refused: nothing in the trace can compute it again.

The two mechanisms differ where their code runs differently, and decide that themselves: which
reads matter (:attr:`TracedGraph.IGNORED_READS`), which leaves with hooks they refuse
(:meth:`TracedGraph.check_leaf`), and what becomes of the reads (compile's guards and re-runs,
batched's checks over the batch).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from chainrule import engine
from chainrule.engine import Value
from chainrule.ops import Op

__all__ = ["Read", "Tape", "TracedGraph", "collector_paused", "name_of", "outputs_of",
           "recording"]  # fmt: skip

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class Read(NamedTuple):
    """A number ``f`` read: ``node``'s, by ``how`` (``"data"``, ``"bool"``, ``"lt"``, ...),
    compared with ``other`` (a comparison) or not, what the read gave, and where."""

    at: int  # how many nodes f had made when it read
    node: Value
    how: str
    other: Any
    result: Any
    where: str  # file:line of the read, the first frame outside chainrule


@dataclass
class Tape:
    """What one run of ``f`` did: every node made, every detach, every number read."""

    inputs: list[Value] = field(default_factory=list)
    made: dict[Value, tuple[Value, ...]] = field(default_factory=dict)  # node -> its parents
    op_of: dict[Value, Op] = field(default_factory=dict)
    detached: dict[Value, Value] = field(default_factory=dict)  # x.detach() -> x
    reads: list[Read] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)  # the root, then f's extra outputs
    aux: Any = None  # how f's extra outputs are shaped (None: f returns a Value)
    uses: Counter[Value] = field(default_factory=Counter)  # how often each node is a parent
    literals: set[Value] = field(default_factory=set)  # leaves only the run itself holds
    held: set[Value] = field(default_factory=set)  # leaves held elsewhere too: they may change


@contextmanager
def recording(inputs: list[Value]) -> Iterator[Tape]:
    """A :class:`Tape` of what runs inside the block (``f`` on ``inputs``, the caller sets
    ``outputs`` and ``aux``), watched through the engine's hooks; when the block ends without
    an error, the tape's leaves are sorted into ``literals`` and ``held``.

    The hooks are the engine's, called in every thread: nodes other threads make meanwhile are
    recorded but feed no output, and their reads are ignored.
    """
    tape = Tape(inputs=inputs)
    made, op_of, detached, reads = tape.made, tape.op_of, tape.detached, tape.reads
    me = threading.get_ident()

    def on_node(out: Value, op: Op, parents: tuple[Value, ...]) -> None:
        made[out] = parents
        op_of[out] = op

    def on_read(node: Value, how: str, other: object, result: object) -> None:
        if threading.get_ident() != me or isinstance(result, BaseException):
            return  # another thread's, or a refused conversion (f raises)
        if how == "detach":  # a new leaf with the node's number: the number, recomputed
            detached[result] = node  # type: ignore[index]
        else:
            reads.append(Read(len(made), node, how, other, result, _site()))

    engine.NODE_HOOKS.append(on_node)
    engine.READ_HOOKS.append(on_read)
    try:
        yield tape
    finally:
        engine.NODE_HOOKS.remove(on_node)
        engine.READ_HOOKS.remove(on_read)
    tape.literals, tape.held = _held_by_the_run_only(tape)


def _site() -> str:
    """file:line of the code that read the number: the first frame outside chainrule."""
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _held_by_the_run_only(tape: Tape) -> tuple[set[Value], set[Value]]:
    """The leaves no one but the recorded run holds (``Value(2.0)`` in ``f``, the constant a
    number becomes in ``x * 2.0``): no code can change them, so they are literals of the trace.
    A leaf held anywhere else (a model, a closure) is read on every call.

    Each leaf's references are counted: those the record holds, plus a fixed number that a
    fresh probe, held the same way, shows. Returns the literals and the other leaves.
    """
    uses = tape.uses = Counter(chain.from_iterable(tape.made.values()))  # the forward's too
    others = [
        *tape.outputs,
        *chain.from_iterable(tape.detached.items()),
        *(r.node for r in tape.reads),
        *(r.other for r in tape.reads if isinstance(r.other, Value)),
    ]
    more = Counter(map(id, others))  # by id: the count holds no reference itself
    probe = Value(0.0)
    uses.update(dict.fromkeys([*others, probe], 0))  # a key (count 0), as every leaf is
    del others
    inputs = set(tape.inputs)
    leaves = dict.fromkeys(
        p for p in chain([probe], uses) if p not in tape.made and p not in inputs
    )
    del probe
    extra = [sys.getrefcount(leaf) - uses[leaf] - more[id(leaf)] for leaf in leaves]
    literals = {leaf for leaf, n in zip(leaves, extra) if n == extra[0]}
    held = set(leaves) - literals
    probe = next(iter(leaves))
    literals.discard(probe)
    del uses[probe]
    return literals, held


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a trace is built and turned into code: they hold no
    cycles, only many objects, and the collector would walk them all again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def name_of(f: Callable[..., Any]) -> str:
    """How an error names the user's function."""
    return getattr(f, "__qualname__", None) or repr(f)


def outputs_of(result: Any, who: str, *, rows: bool = False) -> tuple[list[Value], Any]:
    """What ``f`` returned as a list of Values (the root first) and how the extras are shaped:
    None (a Value), ``"value"`` or ``"list"`` (a Value and extras), ``"rows"`` (a list of
    Values, forward only: allowed where ``rows``). ``who`` names the caller in errors."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Value):
        root, extra = result
        extras = extra if isinstance(extra, list) else [extra]
        for e in extras:
            if not isinstance(e, Value):
                raise TypeError(
                    f"{who}: f's second output must be a Value or a list of Values, "
                    f"got {type(e).__name__} {e!r}"
                )
        return [root, *extras], "list" if isinstance(extra, list) else "value"
    if isinstance(result, Value):
        return [result], None
    if rows and isinstance(result, list) and result and all(isinstance(r, Value) for r in result):
        return result, "rows"  # a model's outputs, to evaluate (no gradient: no one root)
    expected = (
        "a Value, a Value and a list of Values, or a list of Values (forward only)"
        if rows
        else "a Value (or a Value and a list of Values)"
    )
    raise TypeError(f"{who} needs f to return {expected}, got {type(result).__name__}")


class TracedGraph:
    """A :class:`Tape` read as a graph, the part of a generated program both mechanisms share.

    ``parents`` and ``outputs`` see ``detach()`` through (a detached copy is its source's
    number, computed again). A node *varies* when it depends on an argument or on a leaf held
    outside the run (read on every call); the others are the same on every call. ``reads``
    are those of a number that varies. :meth:`select` keeps the nodes the outputs and the given
    roots need, in the order ``f`` made them (parents always come first), and sorts their
    leaves into ``leaf_kind`` (``"input"``, ``"literal"`` or ``"external"``) and
    ``externals`` (in the order ``f`` first used them: ``p0``, ``p1``, ...).
    """

    # The reads that decide nothing for this mechanism.
    IGNORED_READS: ClassVar[frozenset[str]] = frozenset()
    # How a refusal of a node computed before f was called begins.
    CANNOT: ClassVar[str] = "cannot trace"

    def __init__(self, tape: Tape) -> None:
        self.tape = tape
        self.inputs = {leaf: i for i, leaf in enumerate(tape.inputs)}
        made = tape.made
        self.parents: dict[Value, tuple[Value, ...]] = made
        if tape.detached:  # else the tape's own record serves, uncopied (compile re-runs f)
            self.parents = {n: tuple(self.source_of(p) for p in ps) for n, ps in made.items()}
        self.outputs = [self.source_of(o) for o in tape.outputs]
        self.varies: set[Value] = set(self.inputs) | tape.held
        varies = self.varies
        for node, parents in self.parents.items():
            if not varies.isdisjoint(parents):
                varies.add(node)
        ignored, varying = self.IGNORED_READS, self.varying
        self.reads = [
            r for r in tape.reads if r.how not in ignored and (varying(r.node) or varying(r.other))
        ]
        self.live: set[Value] = set()
        self.order: list[Value] = []
        self.externals: list[Value] = []
        self.leaf_kind: dict[Value, str] = {}

    def source_of(self, node: Value) -> Value:
        """``node`` with detach() seen through: a detached copy is its source's number."""
        detached = self.tape.detached
        while node in detached:
            node = detached[node]
        return node

    def varying(self, x: object) -> bool:
        """Whether ``x`` is a node whose number may differ on another call (a constant's,
        or a plain number, cannot)."""
        return isinstance(x, Value) and self.source_of(x) in self.varies

    def select(self, roots: Iterable[Value]) -> None:
        """Keep the nodes the outputs and ``roots`` need (``live``, and ``order`` in the order
        ``f`` made them), then sort the leaves they use."""
        made, parents = self.tape.made, self.parents
        roots = [*self.outputs, *roots]
        live = set(roots)
        for node in reversed(made):
            if node in live:
                live.update(parents[node])
        self.live = live
        self.order = [node for node in made if node in live]
        used = [leaf for leaf in self.inputs if leaf in live]
        for node in self.order:
            used += parents[node]
        for leaf in chain(used, roots):  # in the order f first used them
            if leaf not in made and leaf not in self.leaf_kind:
                kind = self._kind_of(leaf)
                self.check_leaf(leaf, kind)
                self.leaf_kind[leaf] = kind
                if kind == "external":
                    self.externals.append(leaf)

    def _kind_of(self, leaf: Value) -> str:
        """A node ``f`` did not make: an argument, a literal, or a leaf read on every call."""
        if leaf in self.inputs:
            return "input"
        if leaf.grad_fn is not None:
            raise ValueError(
                f"{self.CANNOT} {leaf!r} (made by {leaf.grad_fn!r}): f uses a node computed "
                "before f was called; compute it inside f, from its arguments and leaf "
                "parameters"
            )
        return "literal" if leaf in self.tape.literals else "external"

    def check_leaf(self, leaf: Value, kind: str) -> None:
        """Refuse a leaf the mechanism cannot honour (its hooks): each one's own rule."""
        raise NotImplementedError
