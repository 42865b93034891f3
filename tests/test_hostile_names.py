"""Hostile layer names, class names and labels: every conversion that succeeds writes a
model.py that loads strictly, runs, lets a reader find each MATLAB layer's parameters,
and imports nothing but what the template imports; the others fail with one sentence."""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from codegen import cli
from codegen.emit import comment_text
from codegen.passes.names import (
    NN_MODULE_NAMES,
    RESERVED,
    check_class_name,
    legalize,
    safe_class_name,
)
from codegen.testing import dltwriter as w
from tests.conftest import import_generated

pytestmark = pytest.mark.filterwarnings("ignore")

HOSTILE = [
    "卷积1",
    "-",
    "_",
    "__x",
    "../x",
    "__init__",
    "_parameters",
    "_modules",
    "_buffers",
    "training",
    "load_state_dict",
    "named_modules",
    "requires_grad_",
    "forward",
    "torch",
    "nn",
    "F",
    "Path",
    "load_model",
    "CLASSES",
    "super",
    "self",
    "lengths",
    "ｔｏｒｃｈ",
    "ｓｅｌｆ",
    'it\'s "quoted"',
    "'''; import os; '''",
    "a\nb",
    "line\r\nbreak",
    "\u202eevil\u202c",
    "zero\u200bwidth",
    "\ufeffbom",
    "x" * 10_000,
    "1st",
    "class",
    "match",
    "None",
    "",
    " ",
]

# What the template itself imports; a hostile name must not add anything.
IMPORTS = {
    "pathlib",
    "warnings",
    "torch",
    "torch.nn.functional",
    "safetensors",
    "safetensors.torch",
}


def _write(path: Path, layers: list[w.Layer]) -> None:
    w.write_mat(path, {"net": w.series_network(layers)})


def _convert(tmp_path: Path, mat: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "out"
    code = cli.main(["convert", str(mat), "-o", str(out), *extra])
    return code, out


def _layer_keys(source: str) -> dict[str, set[str]]:
    """MATLAB layer name → the state_dict keys its __init__ lines create, read the way a
    person reads model.py: the "# MATLAB layer '...'" comment, else the attribute name.
    """
    init = source.split("def __init__", 1)[1].split("def forward", 1)[0]
    found: dict[str, set[str]] = {}
    pending: str | None = None
    last: tuple[str, str] | None = None  # (label, buffer stem): a layer's next buffers
    events = re.finditer(
        r"^\s*# MATLAB layer (?P<label>.*)$"
        r"|self\.(?P<attr>\w+) = "
        r'|self\.register_buffer\(\s*"(?P<buffer>\w+)"',
        init,
        flags=re.MULTILINE,
    )
    for event in events:
        if event["label"] is not None:
            pending = event["label"]
            continue
        buffer = event["buffer"]
        ident = buffer or event["attr"]
        stem = ident.rsplit("_", 1)[0]
        if pending is not None:
            name = pending
        elif buffer and last is not None and last[1] == stem:
            name = last[0]
        else:
            name = stem if buffer else ident
        found.setdefault(name, set()).add(ident if buffer else f"{ident}.")
        last = (name, stem) if buffer else None
        pending = None
    return found


def _check_generated(out: Path) -> tuple[object, str]:
    source = (out / "model.py").read_text()
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= IMPORTS, imported - IMPORTS
    module = import_generated(out)
    model = module.load_model()  # strict
    return model, source


def _keys_for(name: str, found: dict[str, set[str]], state: dict) -> dict:  # type: ignore[type-arg]
    name = name or "layer"  # an unnamed layer is read as MATLAB's default name 'layer'
    label = comment_text(repr(name))
    patterns = found.get(label) or found.get(name)
    assert patterns, f"no layer in model.py is marked as MATLAB {label!r}"
    return {
        k: v
        for k, v in state.items()
        if any(k.startswith(p) if p.endswith(".") else k == p for p in patterns)
    }


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_layer_names(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((2, 3)).astype(np.float32)
    mean = np.array([[0.5], [1.5], [2.5]])
    layers = [
        w.feature_input(
            name, 3, "zscore", mean=mean, std=np.array([[1.0], [2.0], [4.0]])
        ),
        w.fully_connected("fc", weights=weight, bias=np.ones(2, np.float32)),
        w.regression_output("out", ("a", "b")),
    ]
    if name == "fc":
        layers[1] = w.fully_connected("Fc", weights=weight, bias=np.ones(2, np.float32))
    _write(tmp_path / "in.mat", layers)
    code, out = _convert(tmp_path, tmp_path / "in.mat")
    assert code == 0
    model, source = _check_generated(out)
    found = _layer_keys(source)
    state = model.state_dict()  # type: ignore[attr-defined]
    inputs = _keys_for(name, found, state)
    assert sorted(float(v) for t in inputs.values() for v in t.flatten()) == sorted(
        [0.5, 1.5, 2.5, 1.0, 2.0, 4.0]
    )
    y = model(torch.ones(1, 3))  # type: ignore[operator]
    assert y.shape == (1, 2)

    layers = [
        w.feature_input("in", 3),
        w.fully_connected(name, weights=weight, bias=np.ones(2, np.float32)),
        w.scaling_layer(name + "_s", scale=np.array([[2.0], [3.0]]), bias=0.5),
        w.regression_output("out"),
    ]
    _write(tmp_path / "fc.mat", layers)
    code, out = _convert(tmp_path, tmp_path / "fc.mat", "--force")
    assert code == 0
    model, source = _check_generated(out)
    state = model.state_dict()  # type: ignore[attr-defined]
    fc = _keys_for(name, _layer_keys(source), state)
    assert sorted(fc) == sorted(k for k in fc if k.endswith((".weight", ".bias")))
    weights = [t for k, t in fc.items() if k.endswith(".weight")]
    assert len(weights) == 1 and np.array_equal(weights[0].numpy(), weight)
    expected = (torch.ones(1, 3) @ torch.from_numpy(weight).T + 1) * torch.tensor(
        [2.0, 3.0]
    ) + 0.5
    assert torch.allclose(model(torch.ones(1, 3)), expected)  # type: ignore[operator]


def test_case_only_duplicates_and_derived_names(tmp_path: Path) -> None:
    """``sc_scale`` before a scaling layer ``sc`` would collide with its buffer
    ``sc_scale``; ``Fc``/``fc``/``FC`` are three layers."""
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(4)]
    layers = [
        w.feature_input("in", 3),
        w.fully_connected("sc_scale", weights=mats[0], bias=np.zeros(3, np.float32)),
        w.scaling_layer("sc", scale=np.array([[2.0], [3.0], [4.0]]), bias=0.0),
        w.fully_connected("Fc", weights=mats[1], bias=np.zeros(3, np.float32)),
        w.fully_connected("fc", weights=mats[2], bias=np.zeros(3, np.float32)),
        w.fully_connected("FC", weights=mats[3], bias=np.zeros(3, np.float32)),
        w.regression_output("out"),
    ]
    _write(tmp_path / "n.mat", layers)
    code, out = _convert(tmp_path, tmp_path / "n.mat")
    assert code == 0
    model, source = _check_generated(out)
    state = model.state_dict()  # type: ignore[attr-defined]
    found = _layer_keys(source)
    for name, m in zip(["sc_scale", "Fc", "fc", "FC"], mats, strict=True):
        keys = _keys_for(name, found, state)
        assert any(np.array_equal(t.numpy(), m) for t in keys.values()), name
    scale = _keys_for("sc", found, state)
    assert [t.flatten().tolist() for t in scale.values()] == [[2.0, 3.0, 4.0]]


@pytest.mark.parametrize(
    "class_name",
    ["torch", "nn", "Path", "load_model", "CLASSES", "super", "ｔｏｒｃｈ", "class"],
)
def test_class_names_that_would_shadow_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], class_name: str
) -> None:
    layers = [w.feature_input("in", 3), w.relu("r"), w.regression_output("out")]
    _write(tmp_path / "n.mat", layers)
    code, out = _convert(tmp_path, tmp_path / "n.mat", "--class-name", class_name)
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "--class-name" in err


def test_a_default_class_name_never_shadows(tmp_path: Path) -> None:
    """path.mat with a variable ``path`` would give class ``Path``, shadowing pathlib's."""
    layers = [w.feature_input("in", 3), w.relu("r"), w.regression_output("out")]
    w.write_mat(tmp_path / "path.mat", {"path": w.series_network(layers)})
    code, out = _convert(tmp_path, tmp_path / "path.mat")
    assert code == 0
    model, source = _check_generated(out)
    assert "class PathModel(nn.Module)" in source
    assert (
        safe_class_name("Torch") == "Torch" and safe_class_name("Path") == "PathModel"
    )


def test_an_empty_class_label_is_an_error_not_a_dropped_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers = [
        w.feature_input("in", 3),
        w.fully_connected("fc", weights=np.ones((2, 3), np.float32), bias=None),
        w.softmax("sm"),
        w.classification_output("out", ["cat", ""]),
    ]
    _write(tmp_path / "n.mat", layers)
    code, out = _convert(tmp_path, tmp_path / "n.mat")
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "layer 'out'" in err and "empty class name (class 2 of 2)" in err


def test_reserved_names_cover_nn_module() -> None:
    """The stored list must cover the installed torch (converting never imports it).

    Names with a leading underscore are left to the legaliser, which never produces
    one (torch.compile, for one, adds such attributes to nn.Module at run time)."""
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    public |= {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    assert public <= NN_MODULE_NAMES


@pytest.mark.parametrize("name", [*HOSTILE, "a" * 200, "__", "ünïcode"])
def test_legalised_names_are_safe_by_construction(name: str) -> None:
    ident = legalize(name)
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ident) and len(ident) <= 70
    assert not keyword.iskeyword(ident) and not keyword.issoftkeyword(ident)
    assert not hasattr(builtins, ident) and ident not in RESERVED


def test_check_class_name() -> None:
    assert check_class_name("Net") is None
    for bad in ("torch", "ｔｏｒｃｈ", "_Net", "__Net", "None", "print", "1Net", "a b"):
        assert check_class_name(bad) is not None, bad
