"""Output sizes in docstrings as formulas of the unknown input size (2H, ceil(W/2)).

The DagNN below is written here with scipy.io.savemat (schema inferred from MatConvNet's
DagNN.saveobj, as in tests/test_matconvnet.py). The formulas are checked against the
sizes MatConvNet's own rules give (the NumPy reference), for several input sizes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from codegen.passes.symbolic import fit_dimension
from codegen.reference import matconvnet_numpy as R
from tests.conftest import convert_and_load
from tests.test_matconvnet import EMPTY_CELL, _f32, cell, run_model, struct_array


def _conv(name, inp, out, f, stride, pad):  # type: ignore[no-untyped-def]
    block = {
        "size": np.array([list(map(float, f.shape))]),
        "hasBias": False,
        "pad": np.array([[float(p) for p in pad]]),
        "stride": np.array([[float(stride)] * 2]),
        "dilate": 1.0,
        "opts": EMPTY_CELL,
    }
    return (name, "dagnn.Conv", [inp], [out], [f"{name}f"], block, {f"{name}f": f})


def sampling_dagnn(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """data → conv → {×2 transposed conv (super-resolution), stride-2 conv, 2×2 max pool}."""
    up_f = _f32(rng, 4, 4, 1, 4)  # FH×FW×K×C: 4 channels in, 1 out
    layers = [
        _conv("c1", "data", "x1", _f32(rng, 3, 3, 1, 4), 1, (1, 1, 1, 1)),
        (
            "sr",
            "dagnn.ConvTranspose",
            ["x1"],
            ["sr"],
            ["upf"],
            {
                "size": np.array([[4.0, 4, 1, 4]]),
                "hasBias": False,
                "upsample": np.array([[2.0, 2]]),
                "crop": np.array([[1.0, 1, 1, 1]]),
                "numGroups": 1.0,
                "opts": EMPTY_CELL,
            },
            {"upf": up_f},
        ),
        _conv("down", "x1", "down", _f32(rng, 3, 3, 4, 2), 2, (1, 1, 1, 1)),
        (
            "pooled",
            "dagnn.Pooling",
            ["x1"],
            ["pooled"],
            [],
            {"method": "max", "poolSize": 2.0, "pad": 0.0, "stride": 2.0},
            {},
        ),
    ]
    params = {k: v for *_, p in layers for k, v in p.items()}
    mat_layers = struct_array(
        [
            {
                "name": n,
                "type": t,
                "inputs": cell(*i),
                "outputs": cell(*o),
                "params": cell(*p) if p else EMPTY_CELL,
                "block": b,
            }
            for n, t, i, o, p, b, _ in layers
        ]
    )
    mat_params = struct_array([{"name": k, "value": v} for k, v in params.items()])
    names = ["data"] + [v for _, _, _, o, *_ in layers for v in o]
    net = {
        "vars": struct_array([{"name": v} for v in names]),
        "params": mat_params,
        "layers": mat_layers,
        "meta": {},
    }
    ref = [
        {
            "type": t,
            "inputs": i,
            "outputs": o,
            "params": [params[k] for k in p],
            "block": b,
        }
        for _, t, i, o, p, b, _ in layers
    ]
    return net, ref


def _evaluate(formula: str, h: int, w: int) -> int:
    expr = formula.replace("H", f"*{h}").replace("W", f"*{w}").replace("(*", "(")
    expr = re.sub(r"^\*", "", expr)
    return int(eval(expr, {"floor": math.floor, "ceil": math.ceil}))


def test_upsampling_and_strided_outputs_document_their_sizes(tmp_path: Path) -> None:
    import scipy.io as sio

    rng = np.random.default_rng(0)
    net, ref = sampling_dagnn(rng)
    path = tmp_path / "sr.mat"
    sio.savemat(str(path), {"net": net})
    module, model = convert_and_load(path, tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    documented = dict(
        re.findall(r"Output \d ``(\w+)``: \(N, \d+, (.+)\)\.$", source, re.MULTILINE)
    )
    assert documented == {
        "sr": "2H, 2W",
        "down": "ceil(H/2), ceil(W/2)",
        "pooled": "floor(H/2), floor(W/2)",
    }
    # The formulas are what MatConvNet computes, at odd and even sizes alike.
    for h, w in ((9, 14), (16, 7), (11, 11)):
        x = rng.random((h, w, 1, 1))
        expected = R.dagnn_forward(ref, {"data": x})
        outputs = run_model(module, model, x)
        for name, y in zip(("sr", "down", "pooled"), outputs, strict=True):
            fh, fw = documented[name].split(", ")
            size = (_evaluate(fh, h, w), _evaluate(fw, h, w))
            assert expected[name].shape[:2] == size == y.shape[:2]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (lambda x: x, "H"),
        (lambda x: 2 * x, "2H"),
        (lambda x: 2 * x - 2, "2H - 2"),
        (lambda x: x // 2, "floor(H/2)"),
        (lambda x: (x + 1) // 2, "ceil(H/2)"),
        (lambda x: (x - 5) // 4 + 1, "ceil(H/4) - 1"),
        (lambda x: (x + 1) // 3 + 2, "floor((H + 1)/3) + 2"),
        (lambda x: (x + 7) // 3, "floor((H + 1)/3) + 2"),
        (lambda x: 2 * (x // 2), "?"),  # no single floor((pH + r)/q): no guess
    ],
)
def test_fit_dimension_finds_the_exact_formula(rule, text) -> None:  # type: ignore[no-untyped-def]
    ins = [*range(1000, 1064), 1000 + 43200]
    assert fit_dimension(ins, [rule(x) for x in ins], "H") == text
