"""`mat2torch verify`: against MATLAB's numbers in a REF.mat, and against the NumPy
reference of MATLAB semantics on random inputs (--random)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from safetensors.numpy import load_file, save_file

from codegen import cli, emit
from codegen.api import convert
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests import onnx_numpy
from tests.conftest import corpus_file

pytestmark = pytest.mark.filterwarnings("ignore")


def _ccn_reference(tmp_path: Path, with_activations: bool) -> Path:
    """REF.mat for ccn_net from MATLAB's own ONNX export of it (ccn_net.onnx).

    The export names each ONNX tensor after the MATLAB layer that produces it, so running
    the exported graph gives MATLAB's per-layer activations as well as the output; it runs
    with a small NumPy evaluator of the export's operators (tests/onnx_numpy.py) because
    onnxruntime is not a dependency. Activations are stored as MATLAB's activations()
    returns them (H×W×C×N), Y as predict returns a SeriesNetwork's scores (N×K).
    """
    graph = onnx_numpy.load(corpus_file("dltoolbox", "ccn_net.onnx"))
    # Images near the training mean, so that the class scores are not saturated.
    mean = graph.initializers["imageinput_AvgImg"].transpose(2, 3, 1, 0)
    noise = np.random.default_rng(11).uniform(-5, 5, size=(150, 150, 3, 2))
    x = (mean + noise).astype(np.float32).astype(np.float64)
    env = onnx_numpy.run(graph, x.transpose(3, 2, 0, 1))
    layers, _ = ref.network_layers(
        ref.load_mat(str(corpus_file("dltoolbox", "ccn_net.mat")))["net"]
    )
    names = {ref.layer_name(layer) for layer in layers}
    variables: dict[str, object] = {"X": x, "Y": env["softmax"]}
    if with_activations:
        acts = {
            node.outputs[0]: env[node.outputs[0]].transpose(2, 3, 1, 0)
            for node in graph.nodes
            if node.outputs[0] in names and env[node.outputs[0]].ndim == 4
        }
        # The input layer's activation is the normalized image (the export's Sub).
        acts["imageinput"] = env["imageinput_Sub"].transpose(2, 3, 1, 0)
        acts["softmax"] = env["softmax"].T.reshape(1, 1, 10, -1)  # 1×1×K×N
        assert len(acts) == 16
        variables["activations"] = acts
    path = tmp_path / "ref.mat"
    scipy.io.savemat(path, variables)
    return path


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_ccn_net_agrees_with_matlab_onnx_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refmat = _ccn_reference(tmp_path, with_activations=True)
    net = corpus_file("dltoolbox", "ccn_net.mat")
    code, out = _verify(capsys, str(net), "--reference", str(refmat))
    assert code == 0, out
    assert "PASS: 17 comparisons agree." in out
    assert "first layer where they diverge" not in out
    rows = [line.split() for line in out.splitlines() if line.startswith("layer ")]
    assert [r[1] for r in rows][:3] == ["imageinput", "conv_1", "batchnorm_1"]
    assert all(r[-1] == "pass" for r in rows)
    scores = scipy.io.loadmat(refmat)["Y"]
    assert scores.shape == (2, 10)
    assert ((scores > 1e-2) & (scores < 0.99)).sum() >= 2  # not one-hot: a real check


def test_perturbed_weight_names_the_first_diverging_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refmat = _ccn_reference(tmp_path, with_activations=True)
    net = corpus_file("dltoolbox", "ccn_net.mat")
    out_dir = tmp_path / "model"
    convert(net, out_dir)
    tensors = load_file(str(out_dir / "model.safetensors"))
    # One weight of conv_2, on an input channel that is not all zeros after relu_1.
    pooled = scipy.io.loadmat(refmat)["activations"]["maxpool_1"][0, 0]
    channel = int(np.abs(pooled).mean(axis=(0, 1, 3)).argmax())
    tensors["conv_2.weight"][3, channel, 2, 2] += 0.5
    save_file(tensors, str(out_dir / "model.safetensors"))

    code, out = _verify(
        capsys, str(net), "--reference", str(refmat), "--model-dir", str(out_dir)
    )
    assert code == 1, out
    assert "first layer where they diverge: 'conv_2'" in out
    status = {
        line.split()[1]: line.split()[-1]
        for line in out.splitlines()
        if line.startswith("layer ")
    }
    assert status["conv_1"] == "pass" and status["maxpool_1"] == "pass"
    assert status["conv_2"] == "FAIL"


def test_outputs_only_reference_detects_a_wrong_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refmat = _ccn_reference(tmp_path, with_activations=False)
    net = corpus_file("dltoolbox", "ccn_net.mat")
    code, out = _verify(capsys, str(net), "--reference", str(refmat))
    assert code == 0, out
    assert "no 'activations' struct: outputs only" in out
    data = scipy.io.loadmat(refmat)
    scipy.io.savemat(refmat, {"X": data["X"], "Y": data["Y"][:, ::-1]})
    code, out = _verify(capsys, str(net), "--reference", str(refmat))
    assert code == 1 and "FAIL" in out


def test_reference_without_outputs_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(refmat, {"X": np.zeros((150, 150, 3))})
    net = corpus_file("dltoolbox", "ccn_net.mat")
    code, out = _verify(capsys, str(net), "--reference", str(refmat))
    assert code == 2
    assert "ref.mat" in out and "'Y'" in out.replace("variable(s) Y", "'Y'")
    assert len(out.strip().splitlines()) == 1


# Every trained corpus network that converts without plugins (mimo and eeg, which need
# them, are in test_plugins.py; pac48_TFNetPretrained in test_function_layer.py).
RANDOM_CASES = [
    ("dltoolbox", "ccn_net.mat", None),
    ("dltoolbox", "vikas_net.mat", "net"),
    ("dltoolbox", "specsense_trainedNet.mat", None),
    ("dltoolbox", "yusuf_trainedNetwork_1.mat", None),
    ("dltoolbox", "fuma28_trainedNet.mat", None),
    ("dltoolbox", "arfrns_TrainedNet.mat", None),
    ("dltoolbox", "faultdet_TrainedModel.mat", None),
    ("dltoolbox", "ibpinn_net.mat", None),
    ("dltoolbox", "tsx_transformer_demo.mat", None),
    ("matconvnet", "dncnn_sigma25.mat", None),
    ("matconvnet", "dncnn_dagnn_epoch50.mat", None),
    ("matconvnet", "dcfnet_net.mat", None),
]


@pytest.mark.parametrize(("folder", "name", "variable"), RANDOM_CASES)
def test_random_agrees_on_corpus_networks(
    capsys: pytest.CaptureFixture[str], folder: str, name: str, variable: str | None
) -> None:
    args = [str(corpus_file(folder, name)), "--random", "2"]
    if variable:
        args += ["--variable", variable]
    code, out = _verify(capsys, *args)
    assert code == 0, out
    layer_rows = [line for line in out.splitlines() if line.startswith("layer ")]
    output_rows = [line for line in out.splitlines() if line.startswith("output ")]
    assert output_rows and len(layer_rows) >= 3


def test_random_fails_on_a_broken_relu_template(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ReLU template that lets negative values leak (a leaky ReLU) must be caught."""
    broken = (
        emit.environment()
        .from_string(
            "{% macro init(node) %}{% endmacro %}"
            "{% macro forward(node, args) %}torch.nn.functional.leaky_relu({{ args[0] }}, 0.01)"
            "{% endmacro %}"
        )
        .module
    )
    original = emit.layer_template
    monkeypatch.setattr(
        emit, "layer_template", lambda op: broken if op == "relu" else original(op)
    )
    code, out = _verify(
        capsys, str(corpus_file("dltoolbox", "ccn_net.mat")), "--random", "2"
    )
    assert code == 1, out
    assert "first layer where they diverge: 'relu_1'" in out


def test_random_refuses_an_untrained_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _verify(
        capsys, str(corpus_file("dltoolbox", "resunet_net.mat")), "--random", "1"
    )
    assert code == 2 and "untrained" in out


def _feature_network(tmp_path: Path) -> tuple[Path, object]:
    rng = np.random.default_rng(2)
    net = w.series_network(
        [
            w.feature_input("in", 4),
            w.fully_connected(
                "fc",
                rng.standard_normal((3, 4)).astype(np.float32),
                rng.standard_normal(3).astype(np.float32),
            ),
            w.softmax("sm"),
            w.classification_output("out", ["a", "b", "c"]),
        ]
    )
    path = tmp_path / "features.mat"
    w.write_mat(path, {"net": net})
    return path, net


@pytest.mark.parametrize("rows", [True, False])
def test_feature_reference_layouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: bool
) -> None:
    """X is C×N; Y may be N×K (SeriesNetwork predict) or K×N. The expected scores come
    from the NumPy reference (this network was written by the test, not by MATLAB)."""
    path, net = _feature_network(tmp_path)
    x = np.random.default_rng(4).standard_normal((4, 5))
    layers, _ = ref.network_layers(net)
    y = ref.run_layers(layers, x)  # K×N
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(refmat, {"X": x, "Y": y.T if rows else y})
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 0, out
    scipy.io.savemat(refmat, {"X": x, "Y": (y.T if rows else y) * 1.01})
    code, out = _verify(capsys, str(path), "--reference", str(refmat), "--rtol", "1e-3")
    assert code == 1, out
    code, out = _verify(capsys, str(path), "--reference", str(refmat), "--rtol", "0.02")
    assert code == 0, out


def test_model_dir_that_does_not_load_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _feature_network(tmp_path)
    out = tmp_path / "model"
    convert(path, out)
    tensors = load_file(str(out / "model.safetensors"))
    del tensors["fc.bias"]
    save_file(tensors, str(out / "model.safetensors"))
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(refmat, {"X": np.zeros((4, 2)), "Y": np.zeros((2, 3))})
    code, out_text = _verify(
        capsys, str(path), "--reference", str(refmat), "--model-dir", str(out)
    )
    assert code == 2 and "cannot load the model" in out_text
    assert len(out_text.strip().splitlines()) == 1


def test_inputs_of_the_wrong_size_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _feature_network(tmp_path)
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(refmat, {"X": np.zeros((5, 2)), "Y": np.zeros((2, 3))})
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 2 and "cannot run on inputs of PyTorch shape 2×5" in out
    assert len(out.strip().splitlines()) == 1


def test_activations_that_name_no_layer_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, net = _feature_network(tmp_path)
    x = np.random.default_rng(4).standard_normal((4, 5))  # N=5 ≠ K=3 classes
    layers, _ = ref.network_layers(net)
    y = ref.run_layers(layers, x)
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(refmat, {"X": x, "Y": y, "activations": {"conv9": y}})
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 0 and "none of the 'activations' fields (conv9)" in out
    scipy.io.savemat(refmat, {"X": x, "Y": y, "activations": {"fc": y * 2}})
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 1 and "first layer where they diverge: 'fc'" in out


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("conv_1", "conv_1"),
        ("my layer", "myLayer"),
        ("conv 1", "conv1"),
        ("1st-conv", "x1st_conv"),
        ("for", "xFor"),
        ("res2a/branch", "res2a_branch"),
    ],
)
def test_activation_field_names_follow_make_valid_name(name: str, field: str) -> None:
    from codegen.verify import valid_field_name

    assert valid_field_name(name) == field


def test_two_inputs_and_two_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """X1, X2 in the network's input order; Y1, Y2 in its output order (a dlnetwork,
    whose predict returns K×N). Expected values from the NumPy reference."""
    rng = np.random.default_rng(6)

    def f32(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    layers = [
        w.feature_input("a", 3),
        w.feature_input("b", 2),
        w.fully_connected("fa", f32(4, 3), f32(4)),
        w.fully_connected("fb", f32(4, 2), f32(4)),
        w.addition("add", 2),
        w.relu("relu"),
    ]
    conns = [
        ("a", "fa"),
        ("b", "fb"),
        ("fa", "add/in1"),
        ("fb", "add/in2"),
        ("add", "relu"),
    ]
    net = w.dlnetwork(layers, conns, output_names=["relu", "fb"])
    path = tmp_path / "two.mat"
    w.write_mat(path, {"net": net})
    xa, xb = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    objects, connections = ref.network_layers(net)
    expected = ref.run_graph(objects, connections, {"a": xa, "b": xb})
    refmat = tmp_path / "ref.mat"
    scipy.io.savemat(
        refmat,
        {
            "X1": xa,
            "X2": xb,
            "Y1": expected["relu"],
            "Y2": expected["fb"],
            "activations": {"add": expected["add"]},
        },
    )
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 0, out
    assert [
        line.split()[:2]
        for line in out.splitlines()
        if line.split()[:1] in (["layer"], ["output"])
    ] == [
        ["layer", "add"],
        ["output", "relu"],
        ["output", "fb"],
    ]
    scipy.io.savemat(
        refmat, {"X1": xa, "X2": xb, "Y1": expected["relu"], "Y2": expected["fa"]}
    )
    code, out = _verify(capsys, str(path), "--reference", str(refmat))
    assert code == 1, out
    code, out = _verify(capsys, str(path), "--random", "3")
    assert code == 0, out
