"""chainrule.pytree, and every transform over structures: the shapes JAX gives, closed forms."""

from __future__ import annotations

import math
import random
from collections import namedtuple
from typing import Any, NamedTuple

import pytest
from graphs import Cube
from test_second_order_routes import program

import chainrule
from chainrule import Value, nn
from chainrule.pytree import TreeDef, flatten, leaf_paths, tree_map, unflatten
from chainrule.transforms import (
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    value_and_grad,
    vjp,
)


class Pair(NamedTuple):
    a: Any
    b: Any


Point = namedtuple("Point", "x y")  # the collections form too


def depth3() -> dict[str, Any]:
    """Every container kind, three deep: a dict of a list of a namedtuple of a tuple..."""
    return {"w": [Pair(1.0, (2.0, 3.0)), 4.0], "b": (Point(5.0, [6.0]), None), "c": 7.0}


def f3(p: Any) -> Any:
    """A scalar function of depth3(): every leaf used, with a closed-form gradient."""
    (pair, w1), (pt, _), c = p["w"], p["b"], p["c"]
    return pair.a * pair.b[0] * pair.b[1] + w1 * w1 + pt.x * pt.y[0] + chainrule.sin(c)


def f3_grad() -> dict[str, Any]:  # at depth3(): d/da = b0 b1 = 6, d/db0 = a b1 = 3, ...
    return {"w": [Pair(6.0, (3.0, 2.0)), 8.0], "b": (Point(6.0, [5.0]), None), "c": math.cos(7.0)}


# --- flatten and unflatten ---


def test_leaves_come_in_jax_order_and_put_back_give_the_structure() -> None:
    tree = depth3()
    leaves, tdef = flatten(tree)
    # dict keys sorted (b, c, w) as in jax.tree_util; None holds no leaf
    assert leaves == [5.0, 6.0, 7.0, 1.0, 2.0, 3.0, 4.0]
    back = unflatten(tdef, leaves)
    assert back == tree and type(back["w"][0]) is Pair and type(back["b"][0]) is Point
    assert str(tdef) == "{'b': (Point(x=*, y=[*]), None), 'c': *, 'w': [Pair(a=*, b=(*, *)), *]}"
    assert flatten({"c": 7.0, "b": 1.0})[1] == flatten({"b": 2.0, "c": 3.0})[1]
    assert flatten((1.0, 2.0))[1] != flatten([1.0, 2.0])[1]
    assert flatten(Pair(1.0, 2.0))[1] != flatten((1.0, 2.0))[1]
    assert flatten(2.5) == ([2.5], TreeDef((("leaf", None, 0),), 1))
    assert tree_map(lambda x: 2 * x, tree)["w"][0].b == (4.0, 6.0)


def test_paths_name_each_leaf_as_python_indexes_it() -> None:
    paths = [where for where, _ in leaf_paths(depth3(), "params")]
    assert paths == [
        "params['b'][0].x",
        "params['b'][0].y[0]",
        "params['c']",
        "params['w'][0].a",
        "params['w'][0].b[0]",
        "params['w'][0].b[1]",
        "params['w'][1]",
    ]


def test_deep_structures_need_no_recursion() -> None:
    tree: Any = 1.5
    for _ in range(100_000):
        tree = [tree]
    leaves, tdef = flatten(tree)
    assert leaves == [1.5]
    assert flatten(unflatten(tdef, [2.5]))[1] == tdef
    with pytest.raises(ValueError, match=r"holds 1 leaves, got 2"):
        unflatten(tdef, [1.0, 2.0])


# --- every transform takes and returns structures ---


def test_grad_and_value_and_grad_of_a_depth_three_structure() -> None:
    got = grad(f3)(depth3())
    assert flatten(got)[1] == flatten(depth3())[1]
    assert flatten(got)[0] == pytest.approx(flatten(f3_grad())[0], rel=1e-15)
    value, again = value_and_grad(f3)(depth3())
    assert value == pytest.approx(6.0 + 16.0 + 30.0 + math.sin(7.0), rel=1e-15)
    assert again == got and all(type(g) is float for g in flatten(got)[0])


def test_argnums_tuple_over_structures_and_numbers() -> None:
    def f(p: Any, k: float, q: Any) -> Any:
        return f3(p) * k + q[0] * q[1]

    g_p, g_q = grad(f, argnums=(0, 2))(depth3(), 2.0, [3.0, 4.0])
    assert flatten(g_p)[0] == pytest.approx([2 * x for x in flatten(f3_grad())[0]], rel=1e-15)
    assert g_q == [4.0, 3.0]
    g_q_only, g_k = grad(f, argnums=(-1, 1))(depth3(), 2.0, [3.0, 4.0])
    assert g_q_only == [4.0, 3.0] and g_k == pytest.approx(f3(depth3()), rel=1e-15)


def test_a_bad_leaf_is_named_by_its_path() -> None:
    params = {"w": [1.0, 2.0, 3.0, "x"], "b": 0.0}
    with pytest.raises(TypeError, match=r"grad: params\['w'\]\[3\] is a str 'x'"):
        grad(lambda params: params["b"])(params)
    with pytest.raises(TypeError, match=r"jacfwd: p\['w'\]\[3\] is a str"):
        jacfwd(lambda p: p["b"])(params)
    with pytest.raises(TypeError, match=r"jacobian: output\['k'\]\[1\] is a str"):
        jacobian(lambda x: {"k": [x, "no"]})(1.0)
    with pytest.raises(TypeError, match=r"jvp: primals\[0\]\['w'\]\[3\] needs a real number"):
        jvp(lambda p: p["b"], (params,), (params,))
    with pytest.raises(TypeError, match=r"jvp: .*got str 'no' as output\[1\]"):
        jvp(lambda x: (x, "no"), (1.0,), (1.0,))
    with pytest.raises(TypeError, match=r"needs f to return a scalar .* got a list of length 2"):
        grad(lambda x: [x, x])(1.0)


def test_jacobians_are_the_output_structure_of_the_input_structure() -> None:
    """As jax.jacrev/jacfwd: each output number replaced by a gradient shaped like the input."""

    def f(p: Any) -> Any:
        return {"prod": p.a * p.b[0], "parts": (p.a, p.b[0] * 3.0)}

    p = Pair(2.0, [5.0])
    want = {"prod": Pair(5.0, [2.0]), "parts": (Pair(1.0, [0.0]), Pair(0.0, [3.0]))}
    assert jacrev(f)(p) == want
    assert jacfwd(f)(p) == want
    both = {"prod": (5.0, 2.0), "parts": ((1.0, 0.0), (0.0, 3.0))}
    g = lambda x, y: f(Pair(x, [y]))
    assert jacrev(g, argnums=(0, 1))(2.0, 5.0) == both == jacfwd(g, argnums=(0, 1))(2.0, 5.0)


def test_hessian_of_a_structure_is_the_structure_of_the_structure() -> None:
    """jax.hessian(f)(x) for x = {'u': u, 'v': [v]} is H['u']['v'][0] = d²f / du dv."""

    def f(p: Any) -> Any:
        u, (v,) = p["u"], p["v"]
        return u * u * v + v.exp()

    x = {"u": 1.5, "v": [0.5]}
    h = hessian(f)(x)
    want = {"u": {"u": 2 * 0.5, "v": [2 * 1.5]}, "v": [{"u": 2 * 1.5, "v": [math.exp(0.5)]}]}
    assert h == want
    assert jacfwd(jacrev(f))(x) == want
    assert jacrev(jacrev(f))(x) == want
    assert hvp(f, (x,), ({"u": 1.0, "v": [0.0]},)) == ({"u": 1.0, "v": [3.0]},)


def test_vjp_and_jvp_keep_the_structures() -> None:
    def f(x: Any, y: float) -> Any:
        return {"s": x[0] * y, "t": [x[1] + y]}

    out, vjp_fn = vjp(f, (2.0, 3.0), 4.0)
    assert out == {"s": 8.0, "t": [7.0]}
    assert vjp_fn({"s": 1.0, "t": [10.0]}) == ((4.0, 10.0), 12.0)
    with pytest.raises(ValueError, match=r"cotangent shaped like f's output \(\{'s': \*"):
        vjp_fn({"s": 1.0, "t": 1.0})
    primal, tangent = jvp(f, ((2.0, 3.0), 4.0), ((1.0, 0.0), 1.0))
    assert primal == out and tangent == {"s": 4.0 + 2.0, "t": [1.0]}
    with pytest.raises(ValueError, match=r"tangents shaped like the primals"):
        jvp(f, ((2.0, 3.0), 4.0), ([1.0, 0.0], 1.0))


def test_nested_transforms_over_structures() -> None:
    """d/dk of grad over a structure: the gradient of f3 scaled by k is the gradient."""
    inner = lambda k: grad(lambda p: f3(p) * k)(depth3())["w"][1]
    assert grad(inner)(3.0) == 8.0
    assert jvp(inner, (3.0,), (1.0,))[1] == 8.0


# --- nn.Module parameters directly ---


def test_grad_over_a_models_parameters_list_and_named_dict() -> None:
    model = nn.MLP(2, [3, 1])
    xs, ys = [[0.5, -1.0], [1.5, 0.25]], [1.0, -1.0]

    def loss(params: list[Value]) -> Any:
        by_id = dict(zip(map(id, model.parameters()), params))
        return sum(((_forward(model, x, by_id) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))

    total = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
    total.backward()
    want = [p.grad for p in model.parameters()]
    model.zero_grad()
    got = grad(loss)(model.parameters())
    assert [g.data for g in got] == pytest.approx(want, rel=1e-14)
    assert all(p.grad == 0.0 for p in model.parameters())  # the model is untouched
    named = dict(model.named_parameters())
    by_name = grad(lambda ps: loss([ps[n] for n in named]))(named)
    assert list(by_name) == sorted(named)
    assert [by_name[n].data for n in named] == pytest.approx(want, rel=1e-14)
    floats = grad(loss)([p.data for p in model.parameters()])
    assert floats == pytest.approx(want, rel=1e-14) and all(type(g) is float for g in floats)


def _forward(model: nn.MLP, x: list[float], swap: dict[int, Value]) -> Any:
    """The model's output with each parameter replaced by ``swap[id(parameter)]``."""
    h: list[Any] = list(x)
    for layer in model.layers:
        outs = []
        for n in layer.neurons:
            act = sum((swap[id(w)] * xi for w, xi in zip(n.w, h)), swap[id(n.b)])
            outs.append(nn.ACTIVATIONS[n.activation](act))
        h = outs
    return h[0]


# --- has_aux on every transform (JAX's return shapes) ---


def test_has_aux_on_every_transform() -> None:
    def f(x: Any, y: float) -> Any:
        out = x[0] * x[0] * y
        return out, {"out": out, "tag": "kept"}

    x, aux = (3.0, 1.0), {"out": 18.0, "tag": "kept"}
    assert grad(f, has_aux=True)(x, 2.0) == ((12.0, 0.0), aux)
    assert value_and_grad(f, argnums=(0, 1), has_aux=True)(x, 2.0) == (
        (18.0, aux),
        ((12.0, 0.0), 9.0),
    )
    assert jacrev(f, has_aux=True)(x, 2.0) == ((12.0, 0.0), aux)
    assert jacfwd(f, has_aux=True)(x, 2.0) == ((12.0, 0.0), aux)
    assert hessian(f, has_aux=True)(x, 2.0) == (((4.0, 0.0), (0.0, 0.0)), aux)
    assert hvp(f, (x, 2.0), ((1.0, 0.0), 0.0), has_aux=True) == (((4.0, 0.0), 6.0), aux)
    out, vjp_fn, got_aux = vjp(f, x, 2.0, has_aux=True)
    assert (out, vjp_fn(1.0), got_aux) == (18.0, ((12.0, 0.0), 9.0), aux)
    assert jvp(f, (x, 2.0), ((1.0, 0.0), 0.0), has_aux=True) == (18.0, 12.0, aux)
    out, f_jvp, got_aux = linearize(f, x, 2.0, has_aux=True)
    assert (out, f_jvp((1.0, 0.0), 1.0), got_aux) == (18.0, 12.0 + 9.0, aux)
    for bad in (jacfwd(lambda x: x, has_aux=True), jacrev(lambda x: x, has_aux=True)):
        with pytest.raises(TypeError, match=r"has_aux=True\) needs f to return a pair"):
            bad(1.0)


# --- linearize ---


def test_linearize_of_a_closed_form() -> None:
    f = lambda x, p: {"y": x * p["a"].sin(), "z": [x.exp()]}
    out, f_jvp = linearize(f, 2.0, {"a": 0.5})
    assert out == {"y": 2.0 * math.sin(0.5), "z": [math.exp(2.0)]}
    got = f_jvp(1.0, {"a": 0.0})
    assert got == {"y": math.sin(0.5), "z": [math.exp(2.0)]}
    assert f_jvp(0.0, {"a": 1.0}) == {"y": 2.0 * math.cos(0.5), "z": [0.0]}
    with pytest.raises(ValueError, match=r"f_jvp needs tangents shaped like the primals"):
        f_jvp(1.0, 0.0)


@pytest.mark.parametrize("seed", range(40))
def test_linearize_matches_jvp_bit_for_bit_on_random_graphs_over_every_op(seed: int) -> None:
    f = program(seed)
    rng = random.Random(seed)
    xs = [rng.uniform(0.2, 1.2) for _ in range(3)]
    out, f_jvp = linearize(f, *xs)
    for _ in range(25):  # many tangents through the one recorded graph
        ts = [rng.choice([0.0, -0.0, 1.0, rng.uniform(-3, 3)]) for _ in range(3)]
        primal, tangent = jvp(f, xs, ts)
        got = f_jvp(*ts)
        assert out == primal or (math.isnan(out) and math.isnan(primal))
        assert got == tangent or (math.isnan(got) and math.isnan(tangent)), (ts, got, tangent)
        assert math.copysign(1.0, got) == math.copysign(1.0, tangent)


def test_linearize_inside_other_transforms_stays_differentiable() -> None:
    # d/dx of the tangent map of y -> x y at y = 1 along 1 is d/dx x = 1
    assert grad(lambda x: linearize(lambda y: x * y, 1.0)[1](1.0))(2.0) == 1.0
    assert jvp(lambda x: linearize(lambda y: x * y, 1.0)[1](1.0), (2.0,), (1.0,))[1] == 1.0
    # the tangent map is linear in its tangent, and differentiable in it
    _, f_jvp = linearize(lambda y: y.sin(), 0.5)
    assert grad(f_jvp)(3.0) == math.cos(0.5)
    assert grad(lambda x: linearize(lambda y: y * y, x)[1](1.0))(3.0) == 2.0


def test_linearize_through_custom_ops_functions_and_checkpoints_matches_jvp() -> None:
    from chainrule import checkpoint
    from chainrule.custom import custom_op

    @custom_op(derivative=lambda x, y: (y * chainrule.cos(x * y), x * chainrule.cos(x * y)))
    def sin_xy(x: float, y: float) -> float:
        return math.sin(x * y)

    def f(x: Any, y: Any, wrap: Any = checkpoint) -> Any:
        return Cube.apply(x) + sin_xy(x, y) + wrap(lambda a, b: (a * b).exp(), x, y)

    plain = lambda x, y: f(x, y, wrap=lambda g, *a: g(*a))  # jvp does not enter a checkpoint
    _, f_jvp = linearize(f, 0.7, -0.4)
    for ts in [(1.0, 0.0), (0.0, 1.0), (0.3, -2.5)]:
        assert f_jvp(*ts) == pytest.approx(jvp(plain, (0.7, -0.4), ts)[1], rel=1e-15)


def test_ordered_and_default_dicts_are_containers_as_in_jax() -> None:
    from collections import OrderedDict, defaultdict

    od = OrderedDict([("z", 1.0), ("a", 2.0)])
    leaves, tdef = flatten(od)
    assert leaves == [1.0, 2.0]  # its own order, not sorted
    back = unflatten(tdef, [3.0, 4.0])
    assert type(back) is OrderedDict and list(back.items()) == [("z", 3.0), ("a", 4.0)]
    dd: defaultdict[str, float] = defaultdict(float, {"b": 1.0, "a": 2.0})
    g = grad(lambda d: d["a"] * d["b"])(dd)
    assert type(g) is defaultdict and g.default_factory is float and dict(g) == {"a": 1.0, "b": 2.0}
    assert grad(lambda d: d["z"] * d["z"])(od) == OrderedDict([("z", 2.0), ("a", 0.0)])
    assert [w for w, _ in leaf_paths(od, "p")] == ["p['z']", "p['a']"]
