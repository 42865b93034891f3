"""FunctionLayer: elementwise anonymous functions are parsed (never evaluated) and
written as torch expressions; anything else stays unsupported, or a stub on request."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matio.utils.matclass import MatlabOpaque

from codegen import api, cli, verify
from codegen.errors import ConversionError
from codegen.layers import function_layer as fl
from codegen.layers.record import LayerRecord
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import REPO, corpus_file, import_generated
from tests.support import rel_err, run

pytestmark = pytest.mark.filterwarnings("ignore")


def function_layer(name: str, text: str) -> MatlabOpaque:
    """A FunctionLayer as MATLAB saves it: the function's text in Description, and the
    layer base class's Version 1 (as in the real pac48 files)."""
    return MatlabOpaque(
        properties={
            "Version": np.array([[1.0]]),
            "Name": np.array([name]),
            "Description": np.array([text]),
            "Type": np.array(["Function"]),
            "Formattable": np.array([[False]]),
        },
        classname="nnet.cnn.layer.FunctionLayer",
    )


def _network(text: str) -> object:
    rng = np.random.default_rng(8)
    layers = [
        w.feature_input("x", 5),
        w.fully_connected(
            "fc",
            rng.standard_normal((4, 5)).astype(np.float32),
            rng.standard_normal(4).astype(np.float32),
        ),
        function_layer("fn", text),
        w.fully_connected(
            "out",
            rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal(3).astype(np.float32),
        ),
    ]
    return w.dlnetwork(layers, [("x", "fc"), ("fc", "fn"), ("fn", "out")])


# Each MATLAB function with the same function written by hand in NumPy.
CASES: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
    (
        "@(X) max(X, 0) + 0.1*exp(-X.^2)",
        lambda x: np.maximum(x, 0) + 0.1 * np.exp(-(x**2)),
    ),
    ("@(X) 1./(1+exp(-X))", lambda x: 1 / (1 + np.exp(-x))),
    ("@(x).001*x", lambda x: 0.001 * x),
    ("@(X) -X.^2 + 2.^-X", lambda x: -(x**2) + 2.0 ** (-x)),
    (
        "@(X) (X > 0) .* X + (X <= 0) .* (exp(X) - 1)",
        lambda x: np.where(x > 0, x, np.exp(x) - 1),
    ),
    ("@(X) min(1, max(X, -1)) - X/4", lambda x: np.clip(x, -1, 1) - x / 4),
    ("@(X) (X - 1).^2.^2", lambda x: ((x - 1) ** 2) ** 2),
    # Associativity and signs: MATLAB is left-associative throughout, power included.
    ("@(X) 1 - X - 1 + X./2./4", lambda x: ((1 - x) - 1) + (x / 2) / 4),
    (
        "@(X) 2*-X + -X*3 - (X - 1)./(2*X.^2 + 1)",
        lambda x: -5 * x - (x - 1) / (2 * x**2 + 1),
    ),
    ("@(X) X.^(1+1)/2 - 2.^X.^2", lambda x: x**2 / 2 - (2.0**x) ** 2),
    (
        "@(X) abs(X).*tanh(X) - 3*X./(1+X.^2)",
        lambda x: np.abs(x) * np.tanh(x) - 3 * x / (1 + x**2),
    ),
]


@pytest.mark.parametrize(("text", "numpy_form"), CASES)
def test_elementwise_function_translates_and_matches(
    tmp_path: Path, text: str, numpy_form: Callable[[np.ndarray], np.ndarray]
) -> None:
    net = _network(text)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    api.convert(path, tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    assert "Stub" not in source and "NotImplementedError" not in source
    assert "# MATLAB FunctionLayer" in source
    model = import_generated(tmp_path / "out").load_model()
    x = np.random.default_rng(1).standard_normal((5, 7))
    got = run(model, x).numpy().T
    layers, conns = ref.network_layers(net)
    expected = ref.run_graph(
        layers, conns, {"x": x}, {"fn": lambda props, v: numpy_form(v)}
    )
    assert rel_err(got, expected["out"]) <= 1e-5


def test_the_issue_example_reads_as_torch(tmp_path: Path) -> None:
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": _network("@(X) max(X, 0) + 0.1*exp(-X.^2)")})
    source = api.convert_file(path).source
    # the value flows from fc through the variable forward reuses for chains
    assert re.search(
        r"(\w+) = torch\.clamp\(\1, min=0\) \+ 0\.1 \* torch\.exp\(-\(\1\*\*2\)\)",
        source,
    )
    (entry,) = api.inspect_file(path)["networks"]
    (fn,) = [la for la in entry["layers"] if la[0] == "fn"]
    assert fn[2] == "function_expr"
    assert fn[3] == "function='@(X) max(X, 0) + 0.1*exp(-X.^2)'"


@pytest.mark.parametrize(
    "text",
    [
        "@(x) system('touch pwned')",
        "@(X) eval('X')",
        "@(X) X + evalin('base', 'y')",
        "@(X) feval(@exp, X)",
        "@(X) exp(X)\n!touch pwned",
        "@(X) __import__('os').system('touch pwned')",
        "@(X) X; system('touch pwned')",
        "@(X) y .* X",
        "@(X) X(1:2)",
        "@(X) X * X",
        "@(X) X ^ 2",
        "@(X) sum(X, 1)",
        "@(X) max(X)",
        "@(X, Y) X + Y",
        "@(W)[XFlat*W;YFlat*W]",
        "@(X) 3",
        "@(X) log(-1) * X",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(fl.Untranslatable):
        fl.translate(text)


def test_malicious_function_becomes_a_stub_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.mat"
    w.write_mat(path, {"net": _network("@(x) system('touch pwned')")})
    # Without stubs: one sentence naming the layer and its function, nothing written.
    assert cli.main(["convert", str(path), "-o", str(tmp_path / "plain")]) == 2
    err = capsys.readouterr().err
    assert "'fn' (function \"@(x) system('touch pwned')\")" in err
    assert not (tmp_path / "plain").exists()
    # With stubs: the text is shown, the forward raises until ported.
    out = tmp_path / "out"
    assert cli.main(["convert", str(path), "-o", str(out), "--stub-unsupported"]) == 0
    source = (out / "model.py").read_text()
    assert "class FnFunctionStub(nn.Module):" in source
    # The text is only ever inside strings and comments: no code names `system`.
    names = {
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Name | ast.Attribute)
    }
    assert "system" not in names and "touch" not in names
    module = import_generated(out)
    with pytest.raises(NotImplementedError, match="touch pwned"):
        run(module.load_model(), np.zeros((5, 2)))
    with pytest.raises(ConversionError):
        verify.verify_random(path, 2)
    found = [
        Path(root) / name
        for base in (tmp_path, REPO, Path.cwd())
        for root, _, names in os.walk(base)
        for name in names
        if name == "pwned"
    ]
    assert found == []


def test_pac48_tfnet_scale_functions_translate_and_verify() -> None:
    """The real file's six FunctionLayers are all @(x).001*x (checked), compared with the
    NumPy reference using that formula written by hand."""
    path = corpus_file("dltoolbox", "pac48_TFNetPretrained.mat")
    layers, _ = ref.network_layers(ref.load_mat(str(path))["TFNet"])
    texts = {
        ref.layer_props(la)["Description"].item()
        for la in layers
        if la.classname.endswith("FunctionLayer")
    }
    assert texts == {"@(x).001*x"}
    source = api.convert_file(path).source
    assert source.count("= 0.001 * feature_input") == 6
    report = verify.verify_random(
        path, 2, custom={"FunctionLayer": lambda props, x: 0.001 * x}
    )
    assert report.passed, verify.format_report(report)


def test_the_saved_function_handle_wins_over_the_description() -> None:
    """MATLAB fills Description with the function by default, but a user may set it to
    anything: the text translated is the saved handle's (PredictFcn)."""
    path = corpus_file("dltoolbox", "pac48_TFNetPretrained.mat")
    layers, _ = ref.network_layers(ref.load_mat(str(path))["TFNet"])
    real = next(la for la in layers if la.classname.endswith("FunctionLayer"))
    record = LayerRecord.from_object(real, path.name)
    record.fields["Description"] = np.array(["@(x) x"])
    assert fl.predict_text(record) == "@(x).001*x"


def test_pac48_control_functions_stay_unsupported() -> None:
    """sum(...) and captured workspace variables (XFlat) are not elementwise: refused."""
    with pytest.raises(ConversionError) as info:
        api.convert_file(corpus_file("dltoolbox", "pac48_imagecontrolBC_dlnet.mat"))
    assert "@(W)W.^2./(sum(W.^2,1)+.01)" in str(info.value)


def _shape(tree: dict) -> object:
    """A syntax tree as nested tuples, for readable comparisons."""
    kind = tree["kind"]
    if kind == "num":
        return tree["value"]
    if kind == "param":
        return "X"
    if kind == "neg":
        return ("-", _shape(tree["arg"]))
    if kind == "call":
        return (tree["func"], *[_shape(a) for a in tree["args"]])
    return (tree["op"], _shape(tree["left"]), _shape(tree["right"]))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("@(X) -X.^2", ("-", (".^", "X", 2.0))),
        ("@(X) X.^2.^3", (".^", (".^", "X", 2.0), 3.0)),
        ("@(X) 2.^-X", (".^", 2.0, ("-", "X"))),
        ("@(X) 1 - X - 1", ("-", ("-", 1.0, "X"), 1.0)),
        ("@(X) X./2./4", ("./", ("./", "X", 2.0), 4.0)),
        ("@(X) 1 + 2*X", ("+", 1.0, ("*", 2.0, "X"))),
        ("@(X) X > 1 + 2", (">", "X", ("+", 1.0, 2.0))),
        ("@(X) 2.*X", (".*", 2.0, "X")),
        ("@(X) .5e1*X", ("*", 5.0, "X")),
        ("@(X) max(X, -1)", ("max", "X", ("-", 1.0))),
    ],
)
def test_parser_follows_matlab_precedence(text: str, tree: object) -> None:
    from codegen.matlab_expression import parse

    assert _shape(parse(text, {"max"})) == tree


# --- random expressions: parser and writer against a direct NumPy evaluation ----------


class _Expr:
    """A random MATLAB expression: its text (minimal parentheses, by MATLAB's
    precedence), its precedence, and its value computed directly in NumPy."""

    def __init__(self, text: str, prec: int, value: np.ndarray) -> None:
        self.text, self.prec, self.value = text, prec, value


def _wrap(e: _Expr, needs: bool) -> str:
    return f"({e.text})" if needs else e.text


def _random_expr(rng: np.random.Generator, x: np.ndarray, depth: int) -> _Expr:
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.6:
            return _Expr("X", 6, x)
        c = float(rng.integers(1, 9)) / 4
        return _Expr(repr(c), 6, np.full_like(x, c))
    kind = rng.choice(["add", "sub", "mul", "div", "pow", "neg", "fun", "max", "cmp"])
    a = _random_expr(rng, x, depth - 1)
    if kind in ("add", "sub", "mul"):
        b = _random_expr(rng, x, depth - 1)
        op, prec = {"add": ("+", 2), "sub": ("-", 2), "mul": (".*", 3)}[kind]
        value = {
            "add": a.value + b.value,
            "sub": a.value - b.value,
            "mul": a.value * b.value,
        }[kind]
        return _Expr(
            f"{_wrap(a, a.prec < prec)} {op} {_wrap(b, b.prec <= prec)}", prec, value
        )
    if kind == "div":  # a denominator that is never near zero
        b = _random_expr(rng, x, depth - 1)
        den = _Expr(f"2 + abs({b.text})", 2, 2 + np.abs(b.value))
        return _Expr(f"{_wrap(a, a.prec < 3)} ./ ({den.text})", 3, a.value / den.value)
    if kind == "pow":
        k = int(rng.integers(2, 4))
        return _Expr(f"{_wrap(a, a.prec < 5)}.^{k}", 5, a.value**k)
    if kind == "neg":
        return _Expr(f"-{_wrap(a, a.prec < 4)}", 4, -a.value)
    if kind == "fun":
        name = str(rng.choice(["tanh", "sin", "abs", "cos"]))
        return _Expr(f"{name}({a.text})", 6, getattr(np, name)(a.value))
    if kind == "max":
        c = float(rng.integers(-4, 4)) / 4
        name = str(rng.choice(["max", "min"]))
        fn = np.maximum if name == "max" else np.minimum
        return _Expr(f"{name}({a.text}, {c!r})", 6, fn(a.value, c))
    b = _random_expr(rng, x, depth - 1)
    return _Expr(
        f"{_wrap(a, a.prec < 2)} > {_wrap(b, b.prec <= 1)}",
        1,
        (a.value > b.value).astype(float),
    )


def test_random_expressions_parse_and_write_like_matlab() -> None:
    """The torch line written from the tree (the same template model.py uses) gives what
    the MATLAB expression means; compiled here only because the test wrote the text."""
    import torch

    from codegen import emit

    rng = np.random.default_rng(12)
    x = rng.standard_normal(64)
    template = emit.layer_template(fl.OP)
    checked = 0
    for _ in range(150):
        e = _random_expr(rng, x, 4)
        text = f"@(X) {e.text}"
        try:
            tree = fl.translate(text)
        except fl.Untranslatable:
            assert "X" not in e.text, text  # only constant expressions may be refused
            continue
        node = type("N", (), {"attrs": {"expr": tree}})()
        line = " ".join(str(template.forward(node, ["x"])).split())
        fn = eval(f"lambda x: {line}", {"torch": torch})
        got = np.broadcast_to(fn(torch.from_numpy(x)).numpy(), x.shape)
        np.testing.assert_allclose(
            got, e.value, rtol=1e-9, atol=1e-9, err_msg=f"{text} → {line}"
        )
        checked += 1
    assert checked > 100
