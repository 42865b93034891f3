"""Output (loss) layers of classes no converter handles are recognised by what they are
and left out with a note, like the built-in output layers — not by a list of names.

Real sample: mimo_trainedNet.mat's sigmoidClassificationLayer (a user-defined subclass of
nnet.layer.RegressionLayer). No file in the corpus holds an RL agent from before R2022a or
a user-defined classification layer: those are written with the schema writer
(``user_output_layer``, ``rl_fcn_loss_layer``), whose schemas are inferred from the
mimo layer and the classes' definitions, as their docstrings say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matio.utils.matclass import MatlabOpaque

from codegen import cli
from codegen.api import convert
from codegen.errors import ConversionError
from codegen.testing import dltwriter as w
from tests.conftest import corpus_file, import_generated
from tests.support import TOL, rand, rel_err, rng_fixture, run, write_and_convert

rng = rng_fixture(20260913)


def _softmax_net(rng: np.random.Generator, last: w.Layer | None) -> tuple[list, tuple]:
    weights, bias = rand(rng, 3, 4), rand(rng, 3)
    layers = [
        w.feature_input("x", 4),
        w.fully_connected("fc", weights, bias),
        w.softmax("prob"),
    ]
    return layers + ([last] if last is not None else []), (weights, bias)


def _expected(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    z = weights.astype(np.float64) @ x + bias.astype(np.float64)[:, None]
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def _check(model, rng, params) -> None:  # type: ignore[no-untyped-def]
    x = rng.standard_normal((4, 5))
    got = run(model, x).numpy().T
    assert rel_err(got, _expected(x, *params)) <= TOL


def test_user_defined_classification_layer_is_left_out_with_a_note(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documentation's weightedClassificationLayer: own ClassWeights, base Classes."""
    output = w.user_output_layer(
        "weightedClassificationLayer",
        "wclass",
        classes=["cat", "dog", "fox"],
        own={"ClassWeights": w.double([0.2, 0.5, 0.3])},
        description="Weighted cross entropy",
    )
    layers, params = _softmax_net(rng, output)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    out = tmp_path / "out"
    assert cli.main(["convert", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "training-only layer 'wclass' (weightedClassificationLayer) left out" in err
    assert "nnet.layer.ClassificationLayer" in err
    source = (out / "model.py").read_text()
    assert "training-only layer 'wclass'" in source.split('"""')[1]  # module docstring
    assert "--stub-unsupported" not in source
    module = import_generated(out)
    assert module.CLASSES == ("cat", "dog", "fox")
    _check(module.load_model(), rng, params)


def test_user_defined_regression_layer_ending_a_layer_graph_is_left_out(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    output = w.user_output_layer("maeRegressionLayer", "mae", response_names=["y"])
    layers, params = _softmax_net(rng, output)
    conns = [("x", "fc"), ("fc", "prob"), ("prob", "mae")]
    module, model, _ = write_and_convert(tmp_path, {"g": w.layer_graph(layers, conns)})
    assert module.RESPONSE_NAMES == ("y",)
    _check(model, rng, params)


def test_user_layer_storing_a_loss_function_ending_a_layer_graph_is_left_out(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Schema inferred: a user-defined loss layer with its own LossFunction property."""
    output = w.DltObject(
        "focalLoss",
        {
            "LossFunction": w.char("focal"),
            "Name": w.char("floss"),
            "Description": w.char(""),
            "Type": w.char(""),
        },
        {"Version": w.double(1)},
    )
    layers, params = _softmax_net(rng, output)
    conns = [("x", "fc"), ("fc", "prob"), ("prob", "floss")]
    path = tmp_path / "g.mat"
    w.write_mat(path, {"g": w.layer_graph(layers, conns)})
    result = convert(path, tmp_path / "out")
    assert any("'floss' (focalLoss) left out" in n for n in result.warnings)
    _check(import_generated(tmp_path / "out").load_model(), rng, params)


def test_unmarked_user_layer_ending_a_series_network_is_an_output_layer(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A SeriesNetwork's last layer is always an output layer (trainNetwork needs one):
    even a class whose stored properties say nothing about it."""
    output = w.DltObject(
        "myLossLayer",
        {"Name": w.char("loss"), "Description": w.char(""), "Type": w.char("")},
        {"Version": w.double(1)},
    )
    layers, params = _softmax_net(rng, output)
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    result = convert(path, tmp_path / "out")
    assert any(
        "'loss' (myLossLayer) left out" in n and "ends a SeriesNetwork" in n
        for n in result.warnings
    )
    _check(import_generated(tmp_path / "out").load_model(), rng, params)


def test_rl_agent_critic_with_fcn_loss_layer_converts_without_flags(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pre-R2022a agent: its critic representation's network ends with the toolbox's
    rl.layer.FcnLossLayer. The agent and representation objects are stand-ins with the
    real class names (the network is found by its class, wherever it is)."""
    layers, params = _softmax_net(rng, w.rl_fcn_loss_layer("RepresentationLoss"))
    conns = [("x", "fc"), ("fc", "prob"), ("prob", "RepresentationLoss")]
    critic = MatlabOpaque(
        properties={"Model": w.layer_graph(layers, conns)},
        classname="rl.representation.rlQValueRepresentation",
    )
    agent = MatlabOpaque(properties={"Critic": critic}, classname="rl.agent.rlDQNAgent")
    path = tmp_path / "agent.mat"
    w.write_mat(path, {"agent": agent})
    out = tmp_path / "out"
    assert cli.main(["convert", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert (
        "training-only layer 'RepresentationLoss' (rl.layer.FcnLossLayer) left out"
        in err
    )
    source = (out / "model.py").read_text()
    assert "rl.layer.FcnLossLayer" in source and "Stub" not in source
    _check(import_generated(out).load_model(), rng, params)


def test_mimo_output_layer_is_recognised_and_only_its_sigmoid_layer_is_refused(
    tmp_path: Path,
) -> None:
    path = corpus_file("dltoolbox", "mimo_trainedNet.mat")
    with pytest.raises(ConversionError) as info:
        convert(path, tmp_path / "plain")
    message = str(info.value)
    assert "sigmoidLayer" in message and "sigmoidClassificationLayer" not in message
    result = convert(path, tmp_path / "stubs", stub_unsupported=True)
    assert any(
        "(sigmoidClassificationLayer) left out" in n and "ResponseNames" in n
        for n in result.warnings
    )
    source = (tmp_path / "stubs" / "model.py").read_text()
    assert "(sigmoidClassificationLayer) left out" in source


def test_an_unmarked_user_layer_ending_a_layer_graph_is_still_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A LayerGraph may be meant for a dlnetwork, whose last layer computes the output:
    without a mark of an output layer, nothing is dropped."""
    last = w.DltObject(
        "myActivation",
        {"Name": w.char("act"), "Description": w.char(""), "Type": w.char("")},
        {"Version": w.double(1)},
    )
    layers, _ = _softmax_net(rng, last)
    conns = [("x", "fc"), ("fc", "prob"), ("prob", "act")]
    with pytest.raises(ConversionError, match=r"'act' \(myActivation\)"):
        write_and_convert(tmp_path, {"g": w.layer_graph(layers, conns)})


def test_a_marked_layer_that_feeds_another_is_not_an_output_layer(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    middle = w.user_output_layer("oddLayer", "odd", response_names=["r"])
    layers = [
        w.feature_input("x", 4),
        middle,
        w.fully_connected("fc", rand(rng, 3, 4), rand(rng, 3)),
    ]
    conns = [("x", "odd"), ("odd", "fc")]
    with pytest.raises(ConversionError, match=r"'odd' \(oddLayer\)"):
        write_and_convert(tmp_path, {"g": w.layer_graph(layers, conns)})
