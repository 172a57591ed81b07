"""A one-example function traced and written as one numpy program over a batch.

:mod:`chainrule.batching` calls this module; what happens here:

* :func:`run_on` records, while the function runs on one example, every node ``apply`` makes
  and every read of a number (:func:`chainrule.tracing.recording`, as ``compile`` records);
* :class:`Program` writes the record as Python over arrays: the forward pass from each op's
  array form (:data:`chainrule.array_ops.ARRAY_FORMS`), a :class:`Guard` after each read, and
  the reverse pass written by the engine's own :func:`~chainrule.engine.adjoints` with a
  ``visit`` callback; a layer of neurons over the same inputs becomes one matrix product.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Callable
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from chainrule import engine, ops
from chainrule.array_ops import at_example, form_of, share
from chainrule.custom import HandWrittenOp
from chainrule.engine import Value
from chainrule.grad_mode import enable_grad
from chainrule.ops import MASKED, Op
from chainrule.tracing import Read, Tape, TracedGraph, name_of, outputs_of, recording

__all__ = ["MAX_BRANCHES", "BranchError", "Buffers", "Guard", "Program", "Split", "run_on"]

_ATOM, _UNARY, _MUL, _ADD = 4, 3, 2, 1  # precedence, to parenthesize only where Python needs
_MAX_DEPTH = 60  # deepest expression on one line (Python's compiler recurses)


MAX_BRANCHES = 16  # traces one call may make before it calls the branching hopeless


class BranchError(ValueError):
    """Examples of one batch take different branches of ``f``'s Python control flow."""


def run_on(f: Callable[..., Any], inputs: list[Value], examples: list[Any]) -> Tape:
    """Run ``f`` on the first example (``examples``, made of ``inputs``), recording it."""
    with recording(inputs) as tape:
        try:
            with enable_grad():
                tape.outputs, tape.aux = outputs_of(f(*examples), "batched", rows=True)
        except (ValueError, ArithmeticError) as error:
            if hasattr(error, "example"):  # named already (by a batched function inside f)
                raise
            raise at_example(error, 0) from error
    return tape


# --- the generated program ---


class _E(NamedTuple):
    """An expression of the generated program: its text, precedence, nesting depth, whether
    it is an array over the batch, and (for a product's share) its two factors."""

    text: str
    prec: int = _ATOM
    depth: int = 0
    batched: bool = False
    factors: tuple[_E, _E] | None = None


def _literal(x: float) -> _E:
    text = repr(x) if x == x and abs(x) != float("inf") else ("nan" if x != x else f"{x}")
    return _E(text, _UNARY if text.startswith("-") else _ATOM)


def _binary(left: _E, symbol: str, right: _E, prec: int) -> _E:
    lt = left.text if left.prec >= prec else f"({left.text})"
    rt = right.text if right.prec > prec else f"({right.text})"
    depth = 1 + max(left.depth, right.depth)
    return _E(f"{lt} {symbol} {rt}", prec, depth, left.batched or right.batched)


def _neg(x: _E) -> _E:
    text = x.text if x.prec >= _UNARY else f"({x.text})"
    return _E(f"-{text}", _UNARY, 1 + x.depth, x.batched)


_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL}


class Split(Exception):
    """Raised by a guard: the examples where ``same`` is False left the traced branch."""

    def __init__(self, same: Any, guard: Guard) -> None:
        super().__init__()
        self.same, self.guard = same, guard


class Guard:
    """One read of the trace, evaluated again over the batch on every call."""

    def __init__(self, read: Read, name: str) -> None:
        self.how, self.result, self.where, self.name = read.how, read.result, read.where, name
        self.traced = read.node._data  # the number the traced example gave

    def __call__(self, value: Any, other: Any = None) -> None:
        if self.how in _NUMBER:
            same = (value == self.traced) | (np.isnan(value) & np.isnan(self.traced))
        elif self.how == "bool":
            same = (value != 0.0) == self.result
        else:
            same = _COMPARE[self.how](value, other) == self.result
        if not np.all(same):
            raise Split(same, self)

    def error(self, examples: Any) -> BranchError:
        """The examples still leave every branch traced: the read gives too many outcomes."""
        shown = ", ".join(str(i) for i in examples[:5]) + (", ..." if len(examples) > 5 else "")
        return BranchError(
            f"{self.name}: the Python code at {self.where} reads a number ({self.describe()}) "
            f"and takes more than {MAX_BRANCHES} different branches over this batch (examples "
            f"{shown} still fit none of them): a number read to be used, not only compared, "
            "differs from example to example. Write the computation with operations (relu, "
            "abs, maximum, minimum, clamp) instead of Python on .data."
        )

    def describe(self) -> str:
        if self.how in _NUMBER:
            return f"{self.how} gave {self.traced!r} for the traced example"
        return f"'{_SYMBOL.get(self.how, self.how)}' gave {self.result!r} for the traced example"


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NUMBER = ("data", "item", "format", "repr")  # reads that hand out the number itself


class Program(TracedGraph):
    """A traced run of ``f`` as an array program: inputs, parameters, literals, operations.

    Nodes are taken in the order ``f`` made them, keeping those the outputs and the guarded
    reads depend on (see :class:`~chainrule.tracing.TracedGraph`); the nodes that do not vary
    are literals. A node is *batched* (an array with one number per example) when it depends
    on a batched input.
    """

    CANNOT = "batched cannot use"

    def __init__(self, tape: Tape, batched_inputs: set[Value], backward: bool = True,
                 fuse: bool = True) -> None:  # fmt: skip
        super().__init__(tape)
        self.backward = backward
        source_of = self.source_of
        self.select([source_of(x) for r in self.reads for x in (r.node, r.other)
                     if isinstance(x, Value)])  # fmt: skip
        self.batched: set[Value] = set(batched_inputs)
        self._check_nodes()
        wanted = [*self.inputs, *self.externals] if backward else []
        self.wants = {leaf for leaf in wanted if leaf.requires_grad}  # a gradient reaches them
        for node in self.order:
            if node.grad_fn is not None and not self.wants.isdisjoint(node._prev):
                self.wants.add(node)
        learned = [p for p in self.externals if p in self.wants]
        self.learned = {p: k for k, p in enumerate(learned)}  # a parameter's place in grad
        self.layers = _find_layers(self) if fuse else []
        self.layer_of = {z: (k, j) for k, layer in enumerate(self.layers)
                         for j, z in enumerate(layer.zs)}  # fmt: skip
        self.absorbed = {node for layer in self.layers for node in layer.interior}
        self.fed: dict[Value, list[int]] = {}  # an input -> the layers it feeds
        for k, layer in enumerate(self.layers):
            for x in set(layer.inputs):
                self.fed.setdefault(x, []).append(k)

    def check_leaf(self, leaf: Value, kind: str) -> None:
        """The array program runs no hook: a leaf with hooks is refused, whatever its kind."""
        if leaf._hooks:
            raise ValueError(f"batched does not support hooks (register_hook), found on {leaf!r}")

    def _check_nodes(self) -> None:
        """Which nodes are batched; refuse what one array program cannot compute."""
        for node in self.order:
            if not self.batched.isdisjoint(self.parents[node]):
                self.batched.add(node)
            op = self.tape.op_of[node]
            if node._hooks:
                raise ValueError(
                    f"batched does not support hooks (register_hook), found on {node!r}"
                )
            if node not in self.varies:
                continue
            if isinstance(op, HandWrittenOp):
                raise ValueError(
                    f"batched cannot run the node made by {op!r}: it has a hand-written "
                    "backward (a custom Function or a checkpoint) whose saved numbers belong "
                    "to one example; use custom_op (a derivative rule) with an array form"
                )
            form_of(op)  # a clear error now for an op without an array form

    def generate(self, f: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
        """The source of ``program(n, *inputs, *parameters)`` and the objects it calls."""
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "np": np, "S": share, "dot": _dot, "total": _total, "rows": _rows, "MASKED": MASKED,
            "inf": float("inf"), "nan": float("nan"),
        }  # fmt: skip
        self.names: dict[Op, int] = {}
        self.count = 0
        self.expr: dict[Value, _E] = {}
        for leaf, i in self.inputs.items():
            self.expr[leaf] = _E(f"x{i}", batched=leaf in self.batched)
        for k, leaf in enumerate(self.externals):
            self.expr[leaf] = _E(f"p{k}")
        for leaf, kind in self.leaf_kind.items():
            if kind == "literal":
                self.expr[leaf] = _literal(leaf._data)
        args = ["n", *[f"x{i}" for i in self.inputs.values()], "p", *(["buf"] * bool(self.layers))]
        self.lines.append("    # forward: every example at once")
        self._forward(name_of(f))
        self.lines.append("    # backward: the engine's reverse pass, one node at a time")
        grads = self._backward()
        outs = [self.expr[o].text for o in self.outputs]
        self.lines.append(f"    return {outs[0]}, {_tuple(outs[1:])}, {_tuple(grads)}, grad")
        body = "\n".join(self.lines)
        used = sorted({int(k) for k in re.findall(r"\bp(\d+)\b", body)})
        header = [f"def program({', '.join(args)}):"]
        if used:  # the parameters the program names, as floats (a layer indexes p itself)
            names = ", ".join(f"p{k}" for k in used)
            header.append(f"    {names}, = p[{used!r}].tolist()")
        return "\n".join([*header, body]) + "\n", self.namespace

    def _temp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def _opname_of(self, op: Op, prefix: str) -> str:
        k = self.names.get(op)
        if k is None:
            k = self.names[op] = len(self.names)
            form = form_of(op)
            self.namespace[f"A{k}"], self.namespace[f"L{k}"] = form.forward, form.local
        return f"{prefix}{k}"

    def _assign(self, e: _E, name: str = "") -> _E:
        name = name or self._temp()
        self.lines.append(f"    {name} = {e.text}")
        return _E(name, _ATOM, 0, e.batched)

    def _needed(self) -> set[Value]:
        """The values the backward (or a guard) reads: the forward keeps them in variables."""
        needed = set(self.outputs)
        for r in self.reads:
            needed.update(self.source_of(x) for x in (r.node, r.other) if isinstance(x, Value))
        for node in self.order:
            op, prev = node.grad_fn, node._prev
            if op is None or node not in self.wants:
                continue
            symbol = form_of(op).symbol
            if symbol == "*" and len(prev) == 2:
                for mine, other in ((prev[0], prev[1]), (prev[1], prev[0])):
                    if mine in self.wants:
                        needed.add(self.source_of(other))
            elif symbol not in ("+", "-", "neg"):
                needed.update(self.source_of(p) for p in prev)
                needed.add(node)
        return needed

    def _forward(self, name: str) -> None:
        needed, varies, expr = self._needed(), self.varies, self.expr
        uses = Counter(chain.from_iterable(self.parents[node] for node in self.order))
        guards = self._guards(name)
        self._emit_guards(guards.pop(-1, []))
        starts = {layer.start: k for k, layer in enumerate(self.layers)}
        for index, node in enumerate(self.order):
            if index in starts:
                self._layer_forward(starts[index])
            if node in self.absorbed or node in self.layer_of:
                pass  # computed by its layer's matrix product
            elif node not in varies:
                expr[node] = _literal(node._data)
            else:
                op = self.tape.op_of[node]
                symbol = form_of(op).symbol
                ins = [expr[p] for p in self.parents[node]]
                if symbol in _PRECEDENCE and len(ins) == 2:
                    e = _binary(ins[0], symbol, ins[1], _PRECEDENCE[symbol])
                elif symbol == "neg" and len(ins) == 1:
                    e = _neg(ins[0])
                else:
                    call = f"{self._opname_of(op, 'A')}({', '.join(x.text for x in ins)})"
                    depth = 1 + max((x.depth for x in ins), default=0)
                    e = _E(call, _ATOM, depth, node in self.batched)
                if e.depth > _MAX_DEPTH or node in needed or uses[node] > 1:
                    e = self._assign(e)
                expr[node] = e
            self._emit_guards(guards.pop(index, []))

    def _guards(self, name: str) -> dict[int, list[tuple[str, list[Any]]]]:
        """Each guard and its operands, by the index of the node after which it can run (-1:
        at the start)."""
        position = {node: i for i, node in enumerate(self.order)}
        specs: dict[int, list[tuple[str, list[Any]]]] = {}
        for k, r in enumerate(self.reads):
            node = self.source_of(r.node)
            other = self.source_of(r.other) if isinstance(r.other, Value) else r.other
            operands = [x for x in (node, other) if isinstance(x, Value)]
            self.namespace[f"check{k}"] = Guard(r, name)
            at = max(position.get(x, -1) for x in operands)
            specs.setdefault(at, []).append(
                (f"check{k}", [node, other] if r.how in _COMPARE else [node])
            )
        return specs

    def _emit_guards(self, specs: list[tuple[str, list[Any]]]) -> None:
        for guard, operands in specs:
            texts = [self.expr[x].text if isinstance(x, Value) else _literal(float(x)).text
                     for x in operands]  # fmt: skip
            self.lines.append(f"    {guard}({', '.join(texts)})")

    def _backward(self) -> list[str]:
        """The reverse pass as code: the engine's own pass walks the traced graph and calls
        ``emit`` at each node it visits, in its order; ``emit`` writes the node's adjoint (the
        sum of the shares written for it so far) and its shares for its parents. A
        parameter's share is summed over the batch at once, into ``grad``."""
        self.lines.append(f"    grad = np.zeros({len(self.learned)})  # the parameters' sums")
        root = self.outputs[0]
        self.pending: dict[Value, list[_E]] = {root: [_literal(1.0)]}
        self.layer_grads: list[dict[int, str] | None] = [{} for _ in self.layers]
        if root in self.wants and self.backward:
            try:
                engine.adjoints({root: 1.0}, hooks=False, visit=self._emit)
            except (ValueError, ArithmeticError) as error:  # on example 0's numbers
                raise at_example(error, 0) from error
        for k in range(len(self.layers)):
            self._layer_backward(k)  # a layer whose inputs the pass did not visit
        grads = []
        for leaf in self.inputs:
            if leaf.requires_grad:
                terms = self.pending.get(leaf)
                grads.append(self._sum(terms).text if terms else "0.0")
        return grads

    def _layer_forward(self, k: int) -> None:
        """A layer's neurons as one matrix product: ``Z = W @ X + b``, one row per neuron."""
        layer, index = self.layers[k], {p: i for i, p in enumerate(self.externals)}
        self.namespace[f"W{k}"] = np.array([[index[w] for w in ws] for ws in layer.weights])
        self.namespace[f"B{k}"] = np.array([[index[b]] for b in layer.biases])
        xs = ", ".join(self.expr[x].text for x in layer.inputs)
        self.lines.append(f"    X{k} = np.stack(({xs},), out=buf('X{k}', {len(layer.inputs)}))")
        m = len(layer.zs)
        self.lines.append(f"    Z{k} = np.matmul(p[W{k}], X{k}, out=buf('Z{k}', {m}))")
        self.lines.append(f"    Z{k} += p[B{k}]  # {m} neuron{'s' * (m > 1)}: Z = W @ X + b")
        for j, z in enumerate(layer.zs):
            self.expr[z] = _E(f"Z{k}[{j}]", batched=True)

    def _layer_backward(self, k: int) -> None:
        """A layer's shares from its neurons' adjoints ``G``: ``G @ X.T`` for the weights and
        ``G.sum(1)`` for the biases (summed over the batch), ``W.T @ G`` for its inputs."""
        grads, layer = self.layer_grads[k], self.layers[k]
        if not grads:  # written already, or no adjoint reached the layer
            return
        self.layer_grads[k] = None
        g = ", ".join(grads.get(j, "0.0") for j in range(len(layer.zs)))
        self.lines.append(f"    G{k} = rows(buf('G{k}', {len(layer.zs)}), {g})")
        if layer.zs[0] in self.wants:
            w = [[self.learned[w] for w in ws] for ws in layer.weights]
            self.namespace[f"WI{k}"] = np.array(w)
            self.namespace[f"BI{k}"] = np.array([self.learned[b] for b in layer.biases])
            self.lines.append(f"    grad[WI{k}] += G{k} @ X{k}.T")
            self.lines.append(f"    grad[BI{k}] += G{k}.sum(axis=1)")
        if any(x in self.wants for x in layer.inputs):
            rows = len(layer.inputs)
            self.lines.append(f"    XG{k} = np.matmul(p[W{k}].T, G{k}, out=buf('XG{k}', {rows}))")
            for i, x in enumerate(layer.inputs):
                if x in self.wants:
                    self._deliver(x, _E(f"XG{k}[{i}]", batched=True))

    def _emit(self, node: Value, _adjoint: Any, _shares: Any, _adjoints: Any) -> None:
        for k in self.fed.get(node, ()):  # the pass reached a layer's input: its shares first
            self._layer_backward(k)
        terms = self.pending.pop(node, None)
        op, prev = node.grad_fn, node._prev
        if terms is None or op is None:
            return
        if node in self.layer_of:  # a neuron of a layer: its adjoint joins the layer's
            k, j = self.layer_of[node]
            grads = self.layer_grads[k]
            assert grads is not None  # a layer's shares are written after all its neurons'
            grads[j] = self._assign(self._sum(terms), f"Z{k}_bar{j}").text
            return
        want = [p in self.wants for p in prev]
        if not any(want):
            return
        g = self._sum(terms)
        symbol = form_of(op).symbol
        simple = symbol in ("+", "-", "neg") or (symbol == "*" and len(prev) == 2)
        named = g.text.isidentifier() or g.text == "1.0"
        if (not named and (sum(want) > 1 or not simple)) or g.depth >= _MAX_DEPTH:
            own = self.expr[node].text
            g = self._assign(g, f"{own}_bar" if own.isidentifier() else "")
        values = [self.expr[self.source_of(p)] for p in prev]
        if symbol == "+" and len(prev) == 2:
            parts = [g, g]
        elif symbol == "-" and len(prev) == 2:
            parts = [g, _neg(g)]
        elif symbol == "neg" and len(prev) == 1:
            parts = [_neg(g)]
        elif symbol == "*" and len(prev) == 2:
            parts = [self._product(g, values[1]), self._product(g, values[0])]
        else:  # the op's partials, known only when the program runs (MASKED for some examples)
            own = self.expr[node].text
            base = own if own.isidentifier() else self._temp()
            ds = [f"{base}_d{i}" for i in range(len(prev))]
            texts = ", ".join(v.text for v in [*values, self.expr[node]])
            self.lines.append(f"    ({', '.join(ds)},) = {self._opname_of(op, 'L')}({texts})")
            batched = g.batched or node in self.batched
            parts = [_E(f"S({g.text}, {d})", _ATOM, 1, batched) for d in ds]
        for parent, ok, part in zip(prev, want, parts):
            if ok:
                self._deliver(parent, part)

    @staticmethod
    def _product(g: _E, factor: _E) -> _E:
        product = factor if g.text == "1.0" else _binary(g, "*", factor, _MUL)  # 1.0 * x is x
        return product._replace(factors=(g, factor))

    def _deliver(self, parent: Value, part: _E) -> None:
        """A share for ``parent``: kept for its adjoint, or (a parameter's) summed over the
        batch at once: ``g @ x`` for a product, ``n * s`` for a share that is the same for
        every example (a partial may be one number for the whole batch: 1/b for a / b)."""
        slot = self.learned.get(parent)
        if slot is None:
            self.pending.setdefault(parent, []).append(part)
            return
        if part.factors is not None and all(x.batched for x in part.factors):
            total = f"dot({part.factors[0].text}, {part.factors[1].text}, n)"
        elif part.batched:
            total = f"total({part.text}, n)"
        else:
            total = _binary(_E("n"), "*", part, _MUL).text
        self.lines.append(f"    grad[{slot}] += {total}")

    def _sum(self, terms: list[_E]) -> _E:
        """``((s0 + s1) + s2) + ...``: the engine's order; split into lines when deep."""
        total = terms[0]
        for term in terms[1:]:
            if max(total.depth, term.depth) >= _MAX_DEPTH:
                total = self._assign(total)
            total = _binary(total, "+", term, _ADD)
        return total


class _Layer(NamedTuple):
    """Neurons ``z_j = b_j + sum_i w_ji x_i`` over the same inputs, as ``nn.Neuron`` writes
    them: computed together as one matrix product."""

    inputs: tuple[Value, ...]
    zs: list[Value]  # the neurons' pre-activations
    weights: list[list[Value]]  # weights[j][i] multiplies inputs[i] in zs[j]
    biases: list[Value]
    interior: list[Value]  # the products and partial sums the product replaces
    start: int  # the index in the program's order where the layer is computed


def _find_layers(program: Program) -> list[_Layer]:
    """The neurons of ``program`` grouped by their inputs, where fusing changes nothing but
    the order of the sums: the products and partial sums serve their neuron alone, the
    weights and biases are parameters (all learned, or none of the layer's), distinct."""
    uses = Counter(chain.from_iterable(program.parents[node] for node in program.order))
    keep = set(program.outputs)
    for r in program.reads:
        keep.update(program.source_of(x) for x in (r.node, r.other) if isinstance(x, Value))
    position = {node: i for i, node in enumerate(program.order)}
    groups: dict[tuple[int, ...], list[tuple[Value, Any]]] = {}
    claimed: set[Value] = set()  # a partial sum of a neuron is no neuron of its own
    for node in reversed(program.order):
        found = None if node in claimed else _affine(program, node, uses, keep)
        if found is not None:
            claimed.update(found[3])
            groups.setdefault(tuple(id(x) for x in found[2]), []).insert(0, (node, found))
    layers = []
    for members in groups.values():
        zs = [z for z, _ in members]
        biases = [found[0] for _, found in members]
        weights = [found[1] for _, found in members]
        interior = [node for _, found in members for node in found[3]]
        params = [*biases, *chain.from_iterable(weights)]
        learned = [p in program.learned for p in params]
        if len(set(params)) < len(params) or len(set(learned)) > 1:
            continue
        if len({z in program.wants for z in zs}) > 1:
            continue
        inputs = tuple(members[0][1][2])
        start = min(position[node] for node in interior)
        if max((position.get(x, -1) for x in inputs), default=-1) < start:
            layers.append(_Layer(inputs, zs, weights, biases, interior, start))
    return sorted(layers, key=lambda layer: layer.start)


def _affine(program: Program, z: Value, uses: Counter[Value], keep: set[Value]) -> Any:
    """``z = b + w_0 x_0 + ... + w_{k-1} x_{k-1}`` as ``(b, ws, xs, interior)``, or None."""
    ws: list[Value] = []
    xs: list[Value] = []
    interior: list[Value] = []
    node = z
    while program.tape.op_of.get(node) is ops.ADD and _untouched(node, program):
        a, m = program.parents[node]
        term = _term(program, m, uses, keep)
        if term is None:
            return None
        ws.append(term[0])
        xs.append(term[1])
        interior.append(m)
        if program.leaf_kind.get(a) == "external":
            return (a, ws[::-1], xs[::-1], interior) if len(xs) > 1 else None
        if a not in program.tape.made or uses[a] != 1 or a in keep:
            return None
        interior.append(a)
        node = a
    return None


def _term(program: Program, m: Value, uses: Counter[Value], keep: set[Value]) -> Any:
    """A product ``w * x`` of a parameter and a batched value that serves one sum alone."""
    if program.tape.op_of.get(m) is not ops.MUL or uses[m] != 1 or m in keep:
        return None
    parents = program.parents[m]
    if not _untouched(m, program) or len(parents) != 2:
        return None
    for w, x in (parents, parents[::-1]):
        if program.leaf_kind.get(w) == "external" and x in program.batched and x is not w:
            return w, x
    return None


def _untouched(node: Value, program: Program) -> bool:
    """The engine's parents of ``node`` are the ones it was made from (no detach between)."""
    prev = node._prev
    return not prev or all(a is b for a, b in zip(prev, program.parents[node], strict=True))


def _rows(out: Any, *gs: Any) -> Any:
    """The adjoints of a layer's neurons as the rows of ``out`` (a number: every example's)."""
    for j, g in enumerate(gs):
        out[j] = g
    return out


class Buffers(dict[str, Any]):
    """The arrays a program writes its layers into, kept from one call to the next: a fresh
    array of a megabyte costs the operating system's page faults on every call, which took
    longer than the matrix product itself (5x at 10,000 examples, measured)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def __call__(self, name: str, rows: int) -> Any:
        found = self.get(name)
        if found is None:
            found = self[name] = np.empty((rows, self.n))
        return found


def _total(share: Any, n: int) -> Any:
    """A share summed over the batch: one number per example, or one for all ``n``."""
    return np.sum(share) if np.ndim(share) else n * share


def _dot(g: Any, x: Any, n: int) -> Any:
    """The share ``g * x`` summed over the batch, as one dot product where both are arrays."""
    return np.dot(g, x) if np.ndim(g) and np.ndim(x) else _total(g * x, n)


def _tuple(items: list[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
