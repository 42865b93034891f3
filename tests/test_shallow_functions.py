"""Each transfer, weight, net input and processing function of shallow networks, against
the independent NumPy ``sim`` (codegen/reference/shallow_numpy.py).

Most of these functions have no real sample in ../shared/corpus/shallow. The test
networks are therefore made from a real one: mostafa_ff.mat's fitnet (5 inputs, 10
tansig neurons, 1 purelin output, mapminmax on both sides) is read with scipy.io and
written back as a ``network`` object with scipy.io.savemat, after changing function
names, weights and processing settings. So the 41-field schema is exactly the observed
one; the *values* of the changed fields (a mapstd settings struct, a cascade
connection's weight struct, a function name the corpus never uses) are inferred from
the toolbox's documentation and source, not observed in a MATLAB-saved file. One
difference from MATLAB's bytes: scipy cannot write a struct with no fields, so the empty
``*Param`` structs and the empty cells are written as empty doubles.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import scipy.io as sio
import torch
from safetensors.torch import load_file

from codegen import api, cli
from codegen.errors import ConversionError
from codegen.reference import shallow_numpy as R
from tests.conftest import corpus_file, import_generated
from tests.support import TOL, rel_err


@pytest.fixture(autouse=True)
def _inference_only() -> Iterator[None]:
    """These tests only run models: no autograd (restored for the modules after)."""
    with torch.no_grad():
        yield


TRANSFER_FCNS = [
    "compet",
    "elliot2sig",
    "elliotsig",
    "hardlim",
    "hardlims",
    "logsig",
    "netinv",
    "poslin",
    "purelin",
    "radbas",
    "radbasn",
    "satlin",
    "satlins",
    "softmax",
    "tansig",
    "tribas",
]


def _clean(value: Any) -> None:
    """Empty cells come back from scipy as None; savemat needs arrays there."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        for index in np.ndindex(value.shape):
            item = value[index]
            if isinstance(item, np.ndarray):
                _clean(item)
            else:
                value[index] = np.zeros((0, 0))
    elif isinstance(value, np.ndarray) and value.dtype.names:
        for index in np.ndindex(value.shape):
            for key in value.dtype.names:
                item = value[index][key]
                if isinstance(item, np.ndarray):
                    _clean(item)
                else:
                    value[index][key] = np.zeros((0, 0))


def fitnet() -> Any:
    """mostafa_ff's network object, as scipy reads it (a writable MatlabObject)."""
    data = sio.loadmat(
        corpus_file("shallow", "mostafa_ff.mat"),
        squeeze_me=False,
        struct_as_record=True,
        mat_dtype=True,
    )
    net = data["net"]
    _clean(net)
    return net


def rec(net: Any) -> Any:
    return net[0, 0]


def cell(net: Any, key: str, index: int) -> Any:
    """The 1x1 struct in cell ``key``{index+1} (column cells and row cells alike)."""
    return rec(net)[key].ravel(order="F")[index][0, 0]


def text(value: str) -> np.ndarray:
    return np.array([value])


def convert(tmp_path: Path, variables: dict[str, Any], **kwargs: Any) -> ModuleType:
    path = tmp_path / "net.mat"
    sio.savemat(path, variables)
    out = tmp_path / "out"
    api.convert(path, out, force=True, **kwargs)
    return import_generated(out)


def check(tmp_path: Path, net: Any, x: np.ndarray, tol32: float = TOL) -> str:
    """Model (float64 and float32) against the reference; returns the generated source."""
    module = convert(tmp_path, {"net": net})
    expected = R.sim(net, x)[0]
    model = module.load_model().double()
    model.load_state_dict(load_file(str(tmp_path / "out" / "model.safetensors")))
    got = model(torch.from_numpy(np.ascontiguousarray(x.T))).numpy().T
    got32 = module.load_model()(module.from_matlab(x)).numpy().astype(np.float64).T
    nan = np.isnan(expected)  # NaN inputs give NaN, as in MATLAB
    assert np.array_equal(np.isnan(got), nan) and np.array_equal(np.isnan(got32), nan)
    assert rel_err(got[~nan], expected[~nan]) <= 1e-10
    assert rel_err(got32[~nan], expected[~nan]) <= tol32
    return (tmp_path / "out" / "model.py").read_text()


def inputs(seed: int, count: int = 64) -> np.ndarray:
    """Inputs spread over mostafa_ff's training range (so mapminmax gives about [-1, 1])."""
    s = cell(fitnet(), "inputs", 0)["processSettings"][0, 0][0, 0]
    low, high = s["xmin"].ravel(), s["xmax"].ravel()
    u = np.random.default_rng(seed).uniform(-0.2, 1.2, (5, count))
    return low[:, None] + u * (high - low)[:, None]


@pytest.mark.parametrize("fcn", TRANSFER_FCNS)
def test_transfer_function_of_the_hidden_layer(tmp_path: Path, fcn: str) -> None:
    net = fitnet()
    cell(net, "layers", 0)["transferFcn"] = text(fcn)
    rng = np.random.default_rng(len(fcn))
    rec(net)["IW"][0, 0] = rng.normal(0, 1.5, (10, 5))
    # 1/n magnifies float32 rounding where n is near 0; float64 is still checked to 1e-10.
    source = check(tmp_path, net, inputs(1), tol32=1e-3 if fcn == "netinv" else TOL)
    assert "Hidden = " in source


@pytest.mark.parametrize("fcn", ["softmax", "compet", "logsig", "hardlims"])
def test_transfer_function_of_the_output_layer(tmp_path: Path, fcn: str) -> None:
    net = fitnet()
    cell(net, "layers", 1)["transferFcn"] = text(fcn)
    x = inputs(2)
    x[1, 3] = np.nan  # the toolbox's apply keeps NaN for every function here
    check(tmp_path, net, x)


@pytest.mark.parametrize("weight_fcn", ["dist", "negdist", "mandist", "dotprod"])
@pytest.mark.parametrize("net_input", ["netsum", "netprod"])
def test_weight_and_net_input_functions(
    tmp_path: Path, weight_fcn: str, net_input: str
) -> None:
    """newrb's layer 1 is dist + netprod + radbas; the other pairs are inferred."""
    net = fitnet()
    cell(net, "inputWeights", 0)["weightFcn"] = text(weight_fcn)
    layer = cell(net, "layers", 0)
    layer["netInputFcn"] = text(net_input)
    layer["transferFcn"] = text("radbas" if net_input == "netprod" else "tansig")
    rng = np.random.default_rng(7)
    rec(net)["IW"][0, 0] = rng.uniform(-1, 1, (10, 5))
    rec(net)["b"][0, 0] = rng.uniform(0.2, 1.0, (10, 1))
    source = check(tmp_path, net, inputs(3))
    if weight_fcn == "dotprod" and net_input == "netsum":
        assert "self.Hidden = nn.Linear(5, 10)" in source
    else:
        assert "nn.ParameterDict" in source


def test_cascade_connection_and_layer_without_bias(tmp_path: Path) -> None:
    """cascadeforwardnet: the input also feeds the output layer (IW{2,1}); no bias b{1}."""
    net = fitnet()
    r = rec(net)
    r["inputConnect"] = np.array([[True], [True]])
    r["biasConnect"] = np.array([[False], [True]])
    r["b"][0, 0] = np.zeros((0, 0))
    r["IW"][1, 0] = np.random.default_rng(5).normal(0, 0.5, (1, 5))
    weights = copy.deepcopy(r["inputWeights"][0, 0])
    weights[0, 0]["size"] = np.array([[1.0, 5.0]])
    r["inputWeights"][1, 0] = weights
    source = check(tmp_path, net, inputs(4))
    assert "self.Hidden = nn.Linear(5, 10, bias=False)" in source
    # The layer's first dotprod weight (IW{2,1}) carries b{2}; LW{2,1} is its own module.
    assert "self.Output = nn.Linear(5, 1)" in source
    assert "self.Output_LW1 = nn.Linear(10, 1, bias=False)" in source


def _settings(**fields: Any) -> np.ndarray:
    out = np.zeros((1, 1), dtype=[(k, "O") for k in fields])
    for key, value in fields.items():
        out[0, 0][key] = value
    return out


def test_mapstd_inputs_and_outputs(tmp_path: Path) -> None:
    """mapstd settings (xmean, xstd, ymean, ystd, gain, xoffset): inferred schema."""
    net = fitnet()
    x = inputs(6)
    mean, std = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    for key, rows, m, s in (("inputs", 5, mean, std), ("outputs", 1, [[3.0]], [[2.0]])):
        spec = cell(net, key, 0 if key == "inputs" else 1)
        spec["processFcns"] = np.array([[text("mapstd")]], dtype=object)
        settings = np.empty((1, 1), dtype=object)
        settings[0, 0] = _settings(
            name=text("mapstd"),
            xrows=np.array([[rows]], float),
            yrows=np.array([[rows]], float),
            xmean=np.asarray(m, float),
            xstd=np.asarray(s, float),
            ymean=np.array([[0.0]]),
            ystd=np.array([[1.0]]),
            gain=1 / np.asarray(s, float),
            xoffset=np.asarray(m, float),
            no_change=np.array([[False]]),
        )
        spec["processSettings"] = settings
    source = check(tmp_path, net, x)
    assert "mapstd of the MATLAB inputs" in source


def test_mapminmax_with_no_change(tmp_path: Path) -> None:
    """MATLAB's apply returns the data unchanged, so the step is not in forward."""
    net = fitnet()
    spec = cell(net, "inputs", 0)
    spec["processSettings"][0, 0][0, 0]["no_change"] = np.array([[True]])
    source = check(tmp_path, net, inputs(8))
    assert "Input_mapminmax" not in source and "Output_mapminmax_reverse" in source


def test_removeconstantrows_on_inputs_matches_reference(tmp_path: Path) -> None:
    net = fitnet()
    spec = cell(net, "inputs", 0)
    old = spec["processSettings"][0, 0]
    mm = old[0, 0]
    keep = [0, 2, 3, 4]
    for key in ("xmax", "xmin", "xrange", "gain", "xoffset"):
        mm[key] = mm[key][keep]
    mm["xrows"] = mm["yrows"] = np.array([[4.0]])
    rcr = _settings(
        max_range=np.array([[0.0]]),
        keep=np.array([[1.0, 3.0, 4.0, 5.0]]),
        remove=np.array([[2.0]]),
        value=np.array([[7.0]]),
        xrows=np.array([[5.0]]),
        yrows=np.array([[4.0]]),
        constants=np.array([[7.0]]),
        no_change=np.array([[False]]),
    )
    settings = np.empty((1, 2), dtype=object)
    settings[0, 0], settings[0, 1] = rcr, old
    spec["processSettings"] = settings
    fcns = np.empty((1, 2), dtype=object)
    fcns[0, 0], fcns[0, 1] = text("removeconstantrows"), text("mapminmax")
    spec["processFcns"] = fcns
    rec(net)["IW"][0, 0] = rec(net)["IW"][0, 0][:, keep]
    source = check(tmp_path, net, inputs(9))
    assert "Input_removeconstantrows_keep]" in source


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("layers", 0, "transferFcn", text("mytansig")), "transferFcn 'mytansig'"),
        (("layers", 1, "netInputFcn", text("netmax")), "netInputFcn 'netmax'"),
        (("inputWeights", 0, "weightFcn", text("normprod")), "weightFcn 'normprod'"),
        (
            (
                "inputs",
                0,
                "processFcns",
                np.array([[text("lvqoutputs")]], dtype=object),
            ),
            "processFcns 'lvqoutputs'",
        ),
        (
            ("layers", 0, "transferParam", _settings(alpha=np.array([[2.0]]))),
            "transferParam fields ['alpha']",
        ),
        (("inputWeights", 0, "delays", np.array([[0.0, 1.0]])), "tapped delays"),
        (("outputs", 1, "feedbackMode", text("closed")), "feedbackMode 'closed'"),
        ((None, 0, "version", text("9")), "format version '9'"),
    ],
)
def test_what_is_not_understood_is_an_error_naming_it(
    tmp_path: Path, change: tuple[Any, ...], says: str
) -> None:
    net = fitnet()
    key, index, field, value = change
    (cell(net, key, index) if key else rec(net))[field] = value
    path = tmp_path / "odd.mat"
    sio.savemat(path, {"odd": net})
    with pytest.raises(ConversionError) as err:
        api.convert_file(path)
    message = str(err.value)
    assert message.startswith("odd.mat, variable 'odd': ") and says in message
    assert "\n" not in message


def test_app_export_struct_and_several_networks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Neural Net app exports a struct with fields Network and TrainingResults (seen
    in public repositories, not in the corpus); several nets per file need --variable.
    """
    net = fitnet()
    other = fitnet()
    cell(other, "layers", 0)["transferFcn"] = text("logsig")
    exported = {"Network": net, "TrainingResults": {"best_perf": 0.5}}
    path = tmp_path / "app.mat"
    sio.savemat(path, {"results": exported, "logsig": other})
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "results.Network  (network)" in out and "logsig  (network)" in out
    with pytest.raises(ConversionError, match="--variable"):
        api.convert_file(path)
    x = inputs(10)
    for variable, source in (("results.Network", net), ("logsig", other)):
        result = api.convert(path, tmp_path / variable, variable=variable, force=True)
        module = import_generated(tmp_path / variable)
        model = module.load_model().double()
        model.load_state_dict(load_file(str(tmp_path / variable / "model.safetensors")))
        got = model(torch.from_numpy(np.ascontiguousarray(x.T))).numpy().T
        assert rel_err(got, R.sim(source, x)[0]) <= 1e-10
        assert result.graph.variable == variable


def test_reference_functions_on_hand_computed_values() -> None:
    """The reference itself, on values worked out by hand from the documented formulas."""
    n = np.array([[-1.0, 0.0, 2.0, np.nan]])
    np.testing.assert_array_equal(R.transfer("hardlim", n), [[0, 1, 1, np.nan]])
    np.testing.assert_array_equal(R.transfer("hardlims", n), [[-1, 1, 1, np.nan]])
    np.testing.assert_array_equal(R.transfer("satlins", n), [[-1, 0, 1, np.nan]])
    np.testing.assert_array_equal(R.transfer("tribas", n), [[0, 1, 0, np.nan]])
    np.testing.assert_allclose(R.transfer("tansig", n[:, :3]), np.tanh(n[:, :3]))
    np.testing.assert_allclose(R.transfer("elliotsig", n[:, :3]), [[-0.5, 0, 2 / 3]])
    np.testing.assert_allclose(R.transfer("elliot2sig", n[:, :3]), [[-0.5, 0, 0.8]])
    ties = np.array([[1.0, 0.0, np.nan], [1.0, 3.0, 0.0]])
    np.testing.assert_array_equal(
        R.transfer("compet", ties), [[1, 0, np.nan], [0, 1, np.nan]]
    )
    far = np.array([[40.0], [41.0]])  # exp(-1600) underflows: the shift keeps it exact
    np.testing.assert_allclose(
        R.transfer("radbasn", far), [[1 / (1 + np.exp(-81.0))], [np.exp(-81.0)]]
    )
    w, p = np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[3.0], [4.0]])
    np.testing.assert_array_equal(R.weight("dist", w, p), [[5.0], [0.0]])
    np.testing.assert_array_equal(R.weight("mandist", w, p), [[7.0], [0.0]])
    settings = {
        "keep": np.array([[1.0, 3.0]]),
        "remove": np.array([[2.0]]),
        "constants": np.array([[9.0]]),
        "xrows": np.array([[3.0]]),
    }
    y = np.array([[1.0, 2.0], [5.0, 6.0]])
    np.testing.assert_array_equal(
        R.process_reverse("removeconstantrows", settings, y), [[1, 2], [9, 9], [5, 6]]
    )
    mm = {
        "xoffset": np.array([[2.0]]),
        "gain": np.array([[0.5]]),
        "ymin": np.array([[-1.0]]),
    }
    x = np.array([[2.0, 6.0]])
    np.testing.assert_array_equal(R.process_apply("mapminmax", mm, x), [[-1, 1]])
    np.testing.assert_array_equal(
        R.process_reverse("mapminmax", mm, np.array([[-1.0, 1.0]])), x
    )


def test_unconfigured_network_is_refused(tmp_path: Path) -> None:
    """feedforwardnet(10) saved before train/configure has inputs{1}.size = 0."""
    net = fitnet()
    cell(net, "inputs", 0)["size"] = np.array([[0.0]])
    path = tmp_path / "fresh.mat"
    sio.savemat(path, {"net": net})
    with pytest.raises(ConversionError, match="configure"):
        api.convert_file(path)


def test_second_output_and_second_input(tmp_path: Path) -> None:
    """Layer 1 is an output too (outputConnect [1 1]) and a second input (3 features, no
    processing) feeds layer 1; forward takes (Input, Input_2) and returns both outputs
    in layer order, as sim does. The extra structs copy the observed ones."""
    net = fitnet()
    r = rec(net)
    r["outputConnect"] = np.array([[True, True]])
    first_out = copy.deepcopy(r["outputs"][0, 1])
    first_out[0, 0]["size"] = np.array([[10.0]])
    first_out[0, 0]["processFcns"] = np.zeros((1, 0), dtype=object)
    first_out[0, 0]["processSettings"] = np.zeros((1, 0), dtype=object)
    r["outputs"][0, 0] = first_out
    r["numInputs"] = np.array([[2.0]])
    second_in = copy.deepcopy(r["inputs"][0, 0])
    second_in[0, 0]["size"] = np.array([[3.0]])
    second_in[0, 0]["processFcns"] = np.zeros((1, 0), dtype=object)
    second_in[0, 0]["processSettings"] = np.zeros((1, 0), dtype=object)
    inputs_cell = np.empty((1, 2), dtype=object)
    inputs_cell[0, 0], inputs_cell[0, 1] = r["inputs"][0, 0], second_in
    r["inputs"] = inputs_cell
    r["inputConnect"] = np.array([[True, True], [False, False]])
    for key, value in (
        ("IW", np.random.default_rng(11).normal(0, 0.5, (10, 3))),
        ("inputWeights", copy.deepcopy(r["inputWeights"][0, 0])),
    ):
        grown = np.empty((2, 2), dtype=object)
        grown[:, 0] = r[key][:, 0]
        grown[0, 1], grown[1, 1] = value, np.zeros((0, 0))
        r[key] = grown
    path = tmp_path / "two.mat"
    sio.savemat(path, {"net": net})
    out = tmp_path / "out"
    api.convert(path, out, force=True)
    module = import_generated(out)
    model = module.load_model().double()
    model.load_state_dict(load_file(str(out / "model.safetensors")))
    x1, x2 = inputs(12, 20), np.random.default_rng(13).normal(size=(3, 20))
    got = model(
        torch.from_numpy(np.ascontiguousarray(x1.T)),
        torch.from_numpy(np.ascontiguousarray(x2.T)),
    )
    expected = R.sim(net, x1, x2)
    assert len(got) == len(expected) == 2
    for g, e in zip(got, expected, strict=True):
        assert rel_err(g.numpy().T, e) <= 1e-10


def _processing(net: Any, key: str, index: int, steps: list[tuple[str, Any]]) -> None:
    """Set ``key``{index+1}.processFcns / processSettings to ``steps`` (name, struct)."""
    spec = cell(net, key, index)
    fcns = np.empty((1, len(steps)), dtype=object)
    settings = np.empty((1, len(steps)), dtype=object)
    for k, (name, value) in enumerate(steps):
        fcns[0, k], settings[0, k] = text(name), value
    spec["processFcns"], spec["processSettings"] = fcns, settings


def _rows(*values: float) -> np.ndarray:
    return np.array([values], dtype=np.float64)


def test_processpca_on_inputs_and_outputs(tmp_path: Path) -> None:
    """processpca settings (transform, inverseTransform): inferred schema."""
    net = fitnet()
    rng = np.random.default_rng(21)
    transform = rng.normal(0, 0.01, (4, 5))
    _processing(
        net,
        "inputs",
        0,
        [
            (
                "processpca",
                _settings(
                    name=text("processpca"),
                    xrows=_rows(5),
                    yrows=_rows(4),
                    transform=transform,
                    inverseTransform=np.linalg.pinv(transform),
                ),
            )
        ],
    )
    rec(net)["IW"][0, 0] = rng.normal(0, 1, (10, 4))
    out_transform = np.array([[0.6, 0.8]])
    _processing(
        net,
        "outputs",
        1,
        [
            (
                "processpca",
                _settings(
                    name=text("processpca"),
                    xrows=_rows(2),
                    yrows=_rows(1),
                    transform=out_transform,
                    inverseTransform=out_transform.T,
                ),
            )
        ],
    )
    cell(net, "outputs", 1)["size"] = _rows(2)
    source = check(tmp_path, net, inputs(22))
    assert "Output_processpca_reverse_matrix.T" in source


def test_removerows_on_inputs_and_outputs(tmp_path: Path) -> None:
    """removerows settings (keep_ind, remove_ind, xrows, yrows): inferred schema; the
    removed output row comes back as NaN, as the toolbox's reverse writes it."""
    net = fitnet()
    _processing(
        net,
        "inputs",
        0,
        [
            (
                "removerows",
                _settings(
                    name=text("removerows"),
                    xrows=_rows(5),
                    yrows=_rows(4),
                    keep_ind=_rows(1, 2, 4, 5),
                    remove_ind=_rows(3),
                ),
            )
        ],
    )
    rec(net)["IW"][0, 0] = np.random.default_rng(23).normal(0, 0.01, (10, 4))
    _processing(
        net,
        "outputs",
        1,
        [
            (
                "removerows",
                _settings(
                    name=text("removerows"),
                    xrows=_rows(2),
                    yrows=_rows(1),
                    keep_ind=_rows(2),
                    remove_ind=_rows(1),
                ),
            )
        ],
    )
    cell(net, "outputs", 1)["size"] = _rows(2)
    check(tmp_path, net, inputs(24))


def _fixunknowns() -> Any:
    """Rows 2 and 4 had unknowns in training: each is followed by its known-flag row."""
    return _settings(
        name=text("fixunknowns"),
        xrows=_rows(5),
        yrows=_rows(7),
        unknown=_rows(2, 4),
        known=_rows(1, 3, 5),
        shift=_rows(0, 0, 1, 1, 2),
        xmeans=np.array([[1.0], [2.0], [3.0], [4.0], [5.0]]),
    )


def test_fixunknowns_on_inputs(tmp_path: Path) -> None:
    """fixunknowns settings (xrows, yrows, unknown, known, shift, xmeans): inferred."""
    net = fitnet()
    _processing(net, "inputs", 0, [("fixunknowns", _fixunknowns())])
    rec(net)["IW"][0, 0] = np.random.default_rng(25).normal(0, 0.01, (10, 7))
    x = inputs(26)
    x[1, ::3] = np.nan
    x[3, 1::4] = np.nan
    assert not np.isnan(R.sim(net, x)[0]).any()  # every unknown was filled
    source = check(tmp_path, net, x)
    assert "torch.isnan(Input)" in source


def test_fixunknowns_on_outputs_is_refused(tmp_path: Path) -> None:
    net = fitnet()
    _processing(net, "outputs", 1, [("fixunknowns", _fixunknowns())])
    path = tmp_path / "out.mat"
    sio.savemat(path, {"net": net})
    with pytest.raises(ConversionError, match="fixunknowns"):
        api.convert_file(path)
