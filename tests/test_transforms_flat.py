"""Flat arguments and structures take one route through the transforms: the same bits.

A call with plain numbers (``grad(f)(x, y)``) skips the work structures need (path strings,
walks of nested containers), so these tests hold it to the structured call of the same
function (``grad(lambda p: f(*p))((x, y))``) on random graphs over every op of the table:
equal bits, the sign of zero included, equal types, and the same error messages.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict, defaultdict, namedtuple
from typing import Any

import pytest
from test_second_order_routes import program

from chainrule import Value
from chainrule.dual import Dual
from chainrule.engine import constant
from chainrule.pytree import TreeDef, _entries, _is_leaf, flatten, unflatten
from chainrule.transforms import _RUNNING, grad, hessian, jacfwd, jvp, value_and_grad, vjp

Trio = namedtuple("Trio", "a b c")


def bits(x: Any) -> Any:
    """What two results must share to be the same: each leaf's type and exact value (a
    Value's by its number), NaN equal to NaN, -0.0 apart from 0.0, in the same structure."""
    leaves, tree = flatten(x)
    numbers = [leaf.data if isinstance(leaf, Value) else leaf for leaf in leaves]
    return tree, [type(leaf) for leaf in leaves], [repr(float(n)) for n in numbers]


def inputs(seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    xs = [rng.uniform(0.2, 1.2) for _ in range(3)]
    ts = [rng.choice([0.0, -0.0, 1.0, rng.uniform(-3, 3)]) for _ in range(3)]
    return xs, ts


@pytest.mark.parametrize("seed", range(30))
def test_reverse_transforms_give_the_same_bits_flat_and_structured(seed: int) -> None:
    f = program(seed)
    xs, ts = inputs(seed)
    as_tuple = lambda t: f(*t)
    as_trio = lambda p: f(p.a, p.b, p.c)
    flat_g = grad(f, argnums=(0, 1, 2))(*xs)
    assert bits(flat_g) == bits(grad(as_tuple)(tuple(xs)))
    assert bits(Trio(*flat_g)) == bits(grad(as_trio)(Trio(*xs)))
    lifted = lambda x, y, z: f(x, constant(y), constant(z))
    assert bits(grad(lifted)(*xs)) == bits(flat_g[0])  # argnums=0: the number itself
    value, g = value_and_grad(f, argnums=(0, 1, 2))(*xs)
    s_value, s_g = value_and_grad(as_tuple)(tuple(xs))
    assert bits((value, g)) == bits((s_value, s_g)) and bits(g) == bits(flat_g)
    out, pull = vjp(f, *xs)
    s_out, s_pull = vjp(as_tuple, tuple(xs))
    for u in (1.0, -0.0, ts[2]):
        assert bits((out, pull(u))) == bits((s_out, s_pull(u)[0]))
    assert bits(hessian(f, argnums=(0, 1, 2))(*xs)) == bits(hessian(as_tuple)(tuple(xs)))


@pytest.mark.parametrize("seed", range(30))
def test_jvp_gives_the_same_bits_flat_and_structured(seed: int) -> None:
    f = program(seed)
    xs, ts = inputs(seed)
    flat = jvp(f, xs, ts)
    assert bits(flat) == bits(jvp(lambda t: f(*t), (tuple(xs),), (tuple(ts),)))
    as_dict = lambda d: f(d["x"], d["y"], d["z"])
    by_name = jvp(as_dict, (dict(zip("xyz", xs)),), (dict(zip("xyz", ts)),))
    assert bits(flat) == bits(by_name)


@pytest.mark.parametrize("seed", range(10))
def test_values_and_ints_take_the_same_route_as_floats_in_a_structure(seed: int) -> None:
    f = program(seed)
    xs, _ = inputs(seed)
    values = [Value(x) for x in xs]
    flat = grad(f, argnums=(0, 1, 2))(*values)
    structured = grad(lambda t: f(*t))(tuple(values))
    assert all(type(g) is Value and g.requires_grad for g in flat)
    assert bits(flat) == bits(structured)
    # a Value not differentiated still makes the results Values, flat or structured
    mixed = grad(f)(xs[0], values[1], values[2])
    assert type(mixed) is Value and bits(mixed) == bits(grad(f)(*values))
    assert bits(grad(lambda t: f(*t))((2, 1, 3))) == bits(grad(f, argnums=(0, 1, 2))(2, 1, 3))


def test_bad_leaves_get_the_same_message_flat_and_structured() -> None:
    with pytest.raises(TypeError, match=r"^grad: x is a str '1'; expected a number, a Value"):
        grad(lambda x: x)("1")
    with pytest.raises(TypeError, match=r"^grad: p\[1\] is a str '1'; expected a number, a Value"):
        grad(lambda p: p[0])((1.0, "1"))
    with pytest.raises(TypeError, match=r"^grad: args\[1\] is a str 's'; expected"):
        grad(lambda *a: a[0], argnums=(0, 1))(1.0, "s")
    with pytest.raises(TypeError, match=r"^jacfwd: x is a str 'a'; expected a number"):
        jacfwd(lambda x: x)("a")
    with pytest.raises(TypeError, match=r"^jacfwd: p\['b'\]\[0\] is a str 'a'; expected"):
        jacfwd(lambda p: p["a"])({"a": 1.0, "b": ["a"]})
    with pytest.raises(TypeError, match=r"^vjp: output is a str 'no'; expected a Value or a"):
        vjp(lambda x: "no", 1.0)
    with pytest.raises(TypeError, match=r"^vjp: output\[1\]\['k'\] is a str 'no'; expected"):
        vjp(lambda x: [x, {"k": "no"}], 1.0)
    with pytest.raises(TypeError, match=r"^jvp: primals\[1\] needs a real number"):
        jvp(lambda x, y: x, (1.0, "no"), (1.0, 1.0))
    assert _RUNNING.stack == []  # a failed call leaves no trace behind
    assert grad(lambda x, y: x * y)(2.0, 3.0) == 3.0


def test_argnums_are_checked_for_each_number_of_arguments() -> None:
    last = grad(lambda *a: a[-1] * a[0], argnums=-1)
    assert last(2.0, 3.0) == 2.0 and last(2.0, 3.0, 5.0) == 2.0 and last(4.0) == 8.0
    third = grad(lambda *a: a[0] * a[-1], argnums=2)
    for _ in range(2):  # an error every time, not only at the first call
        with pytest.raises(ValueError, match=r"argnums=2 is out of range for a call with 2"):
            third(1.0, 2.0)
    assert third(2.0, 0.0, 7.0) == 2.0
    both = value_and_grad(lambda x, y: x * y, argnums=[1, 0])
    assert both(2.0, 3.0) == (6.0, (2.0, 3.0))


def test_a_dual_argument_keeps_its_tangent_flat_and_structured() -> None:
    flat = grad(lambda x: x * x)(Dual(3.0, 1.0, 1))
    structured = grad(lambda p: p[0] * p[0])([Dual(3.0, 1.0, 1)])
    assert isinstance(flat, Dual) and bits([flat.primal, flat.tangent]) == bits(
        [structured[0].primal, structured[0].tangent]
    )


# --- pytree: one level of numbers takes a shortcut to the structure the walk builds ---


ZOO = [
    1.5, 2, True, "s", None, Value(1.0), Dual(1.0, 1.0), (), [], {},
    (1.0,), [1.0], {"a": 1.0}, Trio(1.0, 2.0, 3.0), OrderedDict(z=1.0), defaultdict(float),
    type("MyList", (list,), {})([1.0]), type("MyTuple", (tuple,), {})((1.0,)),
    type("MyDict", (dict,), {})(a=1.0),
]  # fmt: skip


@pytest.mark.parametrize("x", ZOO, ids=lambda x: type(x).__name__)
def test_is_leaf_agrees_with_entries(x: Any) -> None:
    assert _is_leaf(x) == (_entries(x) is None)


def walked(tree: Any) -> TreeDef:
    """The structure of ``tree`` as the general walk builds it: take it from a wrapper, which
    holds ``tree`` below its root and so takes no shortcut."""
    nodes = flatten([tree, [0.0]])[1].nodes
    return TreeDef(nodes[1:-2], sum(kind == "leaf" for kind, _, _ in nodes[1:-2]))


@pytest.mark.parametrize("x", [c for c in ZOO if not _is_leaf(c)], ids=lambda x: type(x).__name__)
def test_one_level_of_numbers_has_the_structure_the_walk_gives(x: Any) -> None:
    leaves, tree = flatten(x)
    assert tree == walked(x) and leaves == flatten([x, [0.0]])[0][:-1]
    back = unflatten(tree, leaves)
    assert type(back) is type(x) and back == x


def test_a_structure_made_once_for_each_length_is_shared_safely() -> None:
    assert flatten((1.0, 2.0))[1] is flatten((3.0, 4.0))[1]
    assert flatten((1.0, 2.0))[1] != flatten([1.0, 2.0])[1]
    assert flatten((1.0, 2.0))[1] != flatten((1.0, 2.0, 3.0))[1]
    # keyed containers build their own: 1 and True are equal keys but not the same key
    back = unflatten(flatten({True: 1.0})[1], [2.0])
    assert back == {True: 2.0} and type(next(iter(back))) is bool
    assert type(next(iter(unflatten(flatten({1: 1.0})[1], [2.0])))) is int
    assert math.isnan(unflatten(flatten([1.0])[1], [math.nan])[0])


def test_the_overhead_benchmark_cases_compute_their_closed_forms() -> None:
    """benchmarks/transforms_overhead.py times each transform on x * y (x * x * y for the
    Hessian) at (1.5, 2.5): each case gives the closed form."""
    import transforms_overhead  # benchmarks/transforms_overhead.py

    run = {name: case() for name, case in transforms_overhead.cases("chainrule").items()}
    assert run["grad(f)(x, y)"] == 2.5 and run["grad(f, argnums=(0, 1))(x, y)"] == (2.5, 1.5)
    both_values = run["grad(f)(x, y), both Values"]
    assert isinstance(both_values, Value) and both_values.data == 2.5
    assert run["value_and_grad(f)(x, y)"] == (3.75, 2.5)
    assert run["jvp(f, (x, y), (1, 0))"] == (3.75, 2.5)
    assert run["vjp(f, x, y)[1](1.0)"] == (2.5, 1.5)
    assert run["hessian(f, argnums=(0, 1))(x, y)"] == ((5.0, 3.0), (3.0, 0.0))
    assert run["grad(loss)({'w': [x, y], 'b': z})"] == {"b": 1.0, "w": [2.5, 1.5]}

    def lacking() -> Any:  # a revision before structures refuses a dict
        raise TypeError("grad: argument 0 must be a number, got dict")

    assert transforms_overhead.numbers(lacking) is None
