"""Graph networks: DAGNetwork, LayerGraph, dlnetwork (v4, v6), layer arrays, several inputs
and outputs, networks nested in objects, untrained networks, v7.3 files.

Real files come from ../shared/corpus/dltoolbox. Where no real file exists (a trained DAG
with a residual connection and a depth concatenation, multi-output dlnetworks, an RL
agent, any v7.3 Deep Learning Toolbox file), the network is written with the project's
schema writer (``codegen.testing.dltwriter``) and the test says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from matio.utils.matclass import MatlabOpaque

from codegen import api, cli, emit
from codegen.errors import ConversionError
from codegen.ir import FEATURE, Node, TensorInfo
from codegen.layers import registry
from codegen.readers import mat
from codegen.reference import matlab_numpy as ref
from codegen.reference.graph_numpy import multi_output_names, propagate_sizes
from codegen.testing import dltwriter as w
from tests.conftest import corpus_file, import_generated
from tests.support import (
    TOL,
    as_matlab_features,
    convert_into,
    rand,
    reference_graph,
    rel_err,
    rng_fixture,
    run,
    write_and_convert,
)

rng = rng_fixture(7)


# ---------------------------------------------------------------------------- real files


def test_fuma28_dlnetwork_v6_matches_numpy_reference(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    path = corpus_file("dltoolbox", "fuma28_trainedNet.mat")
    result, _module, model = convert_into(path, tmp_path)
    assert result.graph.matlab_class == "dlnetwork" and result.graph.outputs == [
        "softmax"
    ]
    captured: dict[str, torch.Tensor] = {}
    model.fc.register_forward_hook(
        lambda mod, args, out: captured.__setitem__("fc", out)
    )
    x = rng.standard_normal((98, 32, 1, 4))
    probs = run(model, x)
    expected = reference_graph(ref.load_mat(str(path))["trainedNet"], {"imageinput": x})
    assert rel_err(captured["fc"].numpy().T, as_matlab_features(expected["fc"])) <= TOL
    assert rel_err(probs.numpy().T, as_matlab_features(expected["softmax"])) <= TOL


def test_korniarp_three_layer_graphs_convert_by_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = corpus_file("dltoolbox", "korniarp_lgraph.mat")
    report = api.inspect_file(path)
    assert [(n["path"], n["kind"]) for n in report["networks"]] == [
        ("lgraph", "LayerGraph"),
        ("lgraph_1", "LayerGraph"),
        ("mygraph", "LayerGraph"),
    ]
    assert all(n["error"] is None and n["trained"] is False for n in report["networks"])
    with pytest.raises(ConversionError, match="holds 3 networks.*--variable"):
        api.convert_file(path)
    for variable in ("lgraph", "lgraph_1", "mygraph"):
        out = tmp_path / variable
        out.mkdir()
        (out / "model.safetensors").write_bytes(
            b"stale weights of an earlier conversion"
        )
        assert (
            cli.main(["convert", str(path), "-o", str(out), "--variable", variable])
            == 2
        )  # exists
        capsys.readouterr()
        assert (
            cli.main(
                [
                    "convert",
                    str(path),
                    "-o",
                    str(out),
                    "--variable",
                    variable,
                    "--force",
                ]
            )
            == 0
        )
        assert "UNTRAINED" in capsys.readouterr().err
        assert not (out / "model.safetensors").exists()
        source = (out / "model.py").read_text()
        assert "# UNTRAINED" in source
        # The 3-input addition takes its inputs in port order: moment (in1), dtheta (in2), critic (in3).
        # The value computed on the line before flows in as x.
        addition = re.search(r"# MATLAB layer 'addition'\n\s+x = (.*)\n", source)
        assert addition is not None
        operands = addition.group(1).split(" + ")
        assert operands.count("x") == 1
        assert all(
            o in ("x", e)
            for o, e in zip(operands, ["fc1_moment", "fc2_dtheta", "fc2_critic"])
        )
        assert re.search(
            r"def forward\(\s*self,\s*imageinput_2: torch.Tensor,\s*imageinput_1: torch.Tensor,\s*moment: torch.Tensor",
            source,
        )
        module = import_generated(out)
        model = module.load_model()
        seen: dict[str, torch.Tensor] = {}
        for name in ("fc1_moment", "fc2_dtheta", "fc2_critic"):
            getattr(model, name).register_forward_hook(
                lambda m, a, o, name=name, seen=seen: seen.__setitem__(name, o)
            )
        model.relu.register_forward_pre_hook(
            lambda m, a, seen=seen: seen.__setitem__("addition", a[0])
        )
        with torch.no_grad():
            value = model.predict(
                torch.randn(2, 1, 1, 1),
                torch.randn(2, 1, 50, 50),
                torch.randn(2, 1, 1, 1),
            )
        assert tuple(value.shape) == (2, 1)
        total = seen["fc1_moment"] + seen["fc2_dtheta"] + seen["fc2_critic"]
        assert torch.equal(seen["addition"], total) and tuple(total.shape) == (2, 300)


def test_resunet_untrained_unet_runs_at_256(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = corpus_file("dltoolbox", "resunet_net.mat")
    assert cli.main(["convert", str(path), "-o", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert (
        "warning" in captured.err
        and "UNTRAINED" in captured.err
        and "no model.safetensors" in captured.err
    )
    assert "untrained" in captured.out
    assert not (tmp_path / "model.safetensors").exists()
    source = (tmp_path / "model.py").read_text()
    assert source.splitlines()[3].startswith(
        "# UNTRAINED: the MATLAB network stores no learned weights"
    )
    module = import_generated(tmp_path)
    model = module.load_model()
    channels = model.Encoder_Stage_1_Conv_1.in_channels
    layers, connections = ref.network_layers(ref.load_mat(str(path))["lgraph"])
    sizes = propagate_sizes(layers, connections, {"imageinput": (256, 256, channels)})
    h, w_, c = sizes["Final-ConvolutionLayer"]
    with torch.no_grad():
        y = model.predict(torch.randn(1, channels, 256, 256))
    assert tuple(y.shape) == (1, c, h, w_) == (1, 1, 256, 256)
    # Every intermediate size too (transposed conv doubling, concatenated channels).
    seen: dict[str, tuple[int, ...]] = {}
    for name in (
        "Decoder_Stage_1_UpConv",
        "Dcoder_Stage_1_Conv_1",
        "Decoder_Stage_3_UpConv",
    ):
        getattr(model, name).register_forward_hook(
            lambda m, a, o, name=name: seen.__setitem__(name, tuple(o.shape))
        )
        getattr(model, name).register_forward_pre_hook(
            lambda m, a, name=name: seen.__setitem__(name + "_in", tuple(a[0].shape))
        )
    with torch.no_grad():
        model.predict(torch.randn(1, channels, 256, 256))
    for torch_name, matlab_name, pre in [
        ("Decoder_Stage_1_UpConv", "Decoder-Stage-1-UpConv", False),
        ("Dcoder_Stage_1_Conv_1", "Decoder-Stage-1-DepthConcatenation", True),
        ("Decoder_Stage_3_UpConv", "Decoder-Stage-3-UpConv", False),
    ]:
        h, w_, c = sizes[matlab_name]
        assert seen[torch_name + ("_in" if pre else "")] == (1, c, h, w_)
    # Untrained zerocenter statistics keep a neutral buffer, never a value in a weights file.
    assert "set these buffers before use" in source
    assert torch.equal(model.imageinput_mean, torch.zeros(channels, 1, 1))


def test_pac48_function_layers_fail_with_their_source_text() -> None:
    """pac48_TFNetPretrained's FunctionLayers are elementwise and translate
    (tests/test_function_layer.py); imagecontrolBC's are not and fail, naming them."""
    message = str(
        pytest.raises(
            ConversionError,
            api.convert_file,
            corpus_file("dltoolbox", "pac48_imagecontrolBC_dlnet.mat"),
        ).value
    )
    assert repr("@(W)[XFlat*W;YFlat*W]") in message
    assert "never evaluates" in message and "\n" not in message
    assert "pac48_imagecontrolBC_dlnet.mat, variable 'dlnet'" in message
    assert (
        "Resize2DLayer" not in message
    )  # supported: only the FunctionLayers are named


def test_every_dltoolbox_corpus_file_inspects_without_crashing() -> None:
    """inspect lists every network with its path; failures are sentences, not tracebacks."""
    for path in sorted(corpus_file("dltoolbox", "MANIFEST.tsv").parent.glob("*.mat")):
        report = api.inspect_file(path)
        for net in report["networks"]:
            assert net["path"] and net["kind"]
            assert net["error"] is None or net["error"].startswith(path.name)


def test_unnamed_layer_array_gets_matlab_default_names() -> None:
    """vikas_net.mat holds an unnamed layer array and the SeriesNetwork MATLAB built from it."""
    report = api.inspect_file(corpus_file("dltoolbox", "vikas_net.mat"))
    by_path = {n["path"]: n for n in report["networks"]}
    assert (
        by_path["layers"]["kind"] == "LayerArray" and by_path["layers"]["error"] is None
    )
    assert [n for n, *_ in by_path["layers"]["layers"]] == [
        n for n, *_ in by_path["net"]["layers"]
    ]


# ---------------------------------------------------------------------------- written DAGs


def _residual_dag(rng: np.random.Generator) -> tuple[list, list[tuple[str, str]]]:
    layers = [
        w.image_input("data", (9, 8, 3), "zerocenter", mean=rand(rng, 1, 1, 3)),
        w.conv2d(
            "conv1",
            rand(rng, 3, 3, 3, 6),
            rand(rng, 6),
            padding_mode="same",
            padding=(1, 1, 1, 1),
        ),
        w.batchnorm(
            "bn1",
            mean=rand(rng, 6),
            var=np.abs(rand(rng, 6)) + 0.5,
            offset=rand(rng, 6),
            scale=rand(rng, 6),
        ),
        w.relu("relu1"),
        w.conv2d("conv2", rand(rng, 3, 3, 6, 6), rand(rng, 6), padding=(1, 1, 1, 1)),
        w.addition("res_add", 2),
        w.relu("relu2"),
        w.conv2d("fire2_expand1x1", rand(rng, 1, 1, 6, 4), rand(rng, 4)),
        w.conv2d(
            "fire2_expand3x3", rand(rng, 3, 3, 6, 5), rand(rng, 5), padding=(1, 1, 1, 1)
        ),
        w.depth_concatenation("fire2_concat", 2),
        w.max_pool2d("pool", (2, 2), stride=(2, 2), padding=(0, 1, 0, 0)),
        w.global_avg_pool2d("gap"),
        w.fully_connected("fc", rand(rng, 1, 1, 9, 3), rand(rng, 3)),
        w.softmax("prob"),
        w.classification_output("out", ["a", "b", "c"]),
    ]
    conns = [
        ("data", "conv1"), ("conv1", "bn1"), ("bn1", "relu1"), ("relu1", "conv2"),
        ("conv2", "res_add/in1"), ("relu1", "res_add/in2"), ("res_add", "relu2"),
        ("relu2", "fire2_expand1x1"), ("relu2", "fire2_expand3x3"),
        ("fire2_expand3x3", "fire2_concat/in2"), ("fire2_expand1x1", "fire2_concat/in1"),
        ("fire2_concat", "pool"), ("pool", "gap"), ("gap", "fc"), ("fc", "prob"), ("prob", "out"),
    ]  # fmt: skip
    return layers, conns


@pytest.mark.parametrize("version", ["v7", "v7.3"])
def test_dag_with_residual_and_depth_concatenation(
    tmp_path: Path, rng: np.random.Generator, version: str
) -> None:
    """Written with the project's writer (no real trained DAG of this shape exists). The
    v7.3 case is HDF5: no real v7.3 Deep Learning Toolbox file exists in the corpus, so
    the writer makes one, and the reader decodes its objects through the same mat-io path.
    """
    layers, conns = _residual_dag(rng)
    net = w.dag_network(layers, conns)
    module, model, path = write_and_convert(tmp_path, {"net": net}, version=version)
    if version == "v7.3":  # an HDF5 file with MATLAB's 128-byte header (version 0x0200)
        import h5py

        assert h5py.is_hdf5(path) and path.read_bytes()[124:128] == b"\x00\x02IM"
    x = rng.standard_normal((9, 8, 3, 3))
    loaded = ref.load_mat(str(path))["net"]
    assert [str(layer.classname) for layer in ref.network_layers(loaded)[0]] == [
        str(layer.classname) for layer in layers
    ]
    expected = reference_graph(loaded, {"data": x})
    captured: dict[str, torch.Tensor] = {}
    model.fc.register_forward_hook(lambda m, a, o: captured.__setitem__("fc", o))
    probs = run(model, x)
    assert rel_err(captured["fc"].numpy().T, as_matlab_features(expected["fc"])) <= TOL
    assert rel_err(probs.numpy().T, as_matlab_features(expected["prob"])) <= TOL
    assert module.CLASSES == ("a", "b", "c")
    # The forward reads top to bottom: one line per layer, named after it, merges inline.
    source = (tmp_path / "out_net" / "model.py").read_text()
    forward = source[source.index("def forward") : source.index("return fc")]
    assert "x = x + relu1" in forward
    assert "x = torch.cat([fire2_expand1x1, x], dim=1)" in forward
    # Each layer's line names it: by its attribute or, without one, by a comment.
    order = [
        m.group(1) or m.group(2)
        for m in re.finditer(r"self\.(\w+)\(|# MATLAB layer '(\w+)'", forward)
    ]
    assert list(dict.fromkeys(order)) == ["conv1", "bn1", "relu1", "conv2", "res_add", "relu2",
                                          "fire2_expand1x1", "fire2_expand3x3", "fire2_concat",
                                          "pool", "gap", "fc"]  # fmt: skip
    # Values read later keep their names until their last use, then are deleted.
    assert "del relu1\n" in forward and "del relu2\n" in forward
    assert "del fire2_expand1x1\n" in forward
    assert "def predict" in source and "return self.prob(fc)" in source


def test_dag_network_with_two_output_layers_returns_both_in_layer_order(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    layers = [
        w.feature_input("x", 4),
        w.fully_connected("head_b", rand(rng, 2, 4), rand(rng, 2)),
        w.regression_output("reg_b"),
        w.fully_connected("head_a", rand(rng, 3, 4), rand(rng, 3)),
        w.softmax("prob_a"),
        w.classification_output("cls_a", ["p", "q", "r"]),
    ]
    conns = [
        ("x", "head_a"),
        ("head_a", "prob_a"),
        ("prob_a", "cls_a"),
        ("x", "head_b"),
        ("head_b", "reg_b"),
    ]
    net = w.dag_network(layers, conns)
    _module, model, _ = write_and_convert(tmp_path, {"net": net})
    x = rng.standard_normal((4, 5))
    outputs = run(model, x)
    assert isinstance(outputs, tuple) and len(outputs) == 2
    expected = reference_graph(net, {"x": x})
    order = multi_output_names(layers, conns)
    assert order == ["reg_b", "cls_a"]
    assert rel_err(outputs[0].numpy().T, expected["head_b"]) <= TOL
    assert rel_err(outputs[1].numpy().T, expected["prob_a"]) <= TOL


@pytest.mark.parametrize("version", [4, 6])
def test_multi_output_dlnetwork_returns_every_output_in_output_names_order(
    tmp_path: Path, rng: np.random.Generator, version: int
) -> None:
    """Written with the project's writer: pac48_TFNetPretrained.mat has six outputs but its
    FunctionLayers cannot be converted. OutputNames here are not in layer order, and one
    uses the 'layer/out' form."""
    layers = [
        w.feature_input("features", 6),
        w.fully_connected("fc_a", rand(rng, 4, 6), rand(rng, 4)),
        w.relu("relu_a"),
        w.fully_connected("fc_b", rand(rng, 2, 6), rand(rng, 2)),
        w.fully_connected("fc_c", rand(rng, 3, 4), rand(rng, 3)),
    ]
    conns = [
        ("features", "fc_a"),
        ("fc_a", "relu_a"),
        ("features", "fc_b"),
        ("relu_a", "fc_c"),
    ]
    names = ["fc_c", "fc_b/out", "relu_a"]
    net = w.dlnetwork(layers, conns, version=version, output_names=names)  # type: ignore[arg-type]
    _module, model, path = write_and_convert(tmp_path, {"net": net})
    assert api.inspect_file(path)["networks"][0]["outputs"] == [
        "fc_c",
        "fc_b",
        "relu_a",
    ]
    x = rng.standard_normal((6, 3))
    outputs = run(model, x)
    expected = reference_graph(net, {"features": x})
    assert len(outputs) == 3
    for got, name in zip(
        outputs, multi_output_names(layers, conns, names), strict=False
    ):
        assert rel_err(got.numpy().T, expected[name]) <= TOL
    source = (tmp_path / "out_net" / "model.py").read_text()
    assert "-> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:" in source
    assert "Returns (fc_c, fc_b, relu_a), in the network's OutputNames order." in source
    assert "They are the outputs of MATLAB 'fc_c', 'fc_b', 'relu_a'." in source


def test_layer_with_several_outputs_feeds_consumers_by_out_k(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections from 'layer/out2' and a network output 'layer/out2'. No built-in layer
    handled here has two outputs, so the test registers a user-defined splitting layer
    (converter + template) for the duration of the test."""

    def convert_split(layer, inputs):  # type: ignore[no-untyped-def]
        half = TensorInfo(FEATURE, (inputs[0].channels // 2,))
        return Node(
            layer.name,
            "test_split",
            layer.classname,
            attrs={"output_ports": ("out1", "out2"), "output_infos": [half, half]},
            out=half,
        )

    registration = registry.Registration(
        "splitLayer", ("test_split",), convert_split, "test"
    )
    monkeypatch.setitem(registry._REGISTRY, "splitLayer", registration)
    template = (
        emit.environment()
        .from_string(
            "{% macro init(node) %}{% endmacro %}{% macro forward(node, args) %}torch.chunk({{ args[0] }}, 2, dim=1){% endmacro %}"
        )
        .module
    )
    original = emit.layer_template
    monkeypatch.setattr(
        emit,
        "layer_template",
        lambda op: template if op == "test_split" else original(op),
    )

    split = MatlabOpaque(
        properties={"Name": np.array(["split"]), "Description": np.array(["halves"])},
        classname="splitLayer",
    )
    wb, bb = rand(rng, 3, 3), rand(rng, 3)
    layers = [
        w.feature_input("x", 6),
        split,
        w.fully_connected("fb", wb, bb),
        w.addition("add", 2),
    ]
    conns = [
        ("x", "split"),
        ("split/out2", "fb"),
        ("split/out1", "add/in1"),
        ("fb", "add/in2"),
    ]
    net = w.dlnetwork(layers, conns, output_names=["add", "split/out2"])
    _module, model, _ = write_and_convert(tmp_path, {"net": net})
    source = (tmp_path / "out_net" / "model.py").read_text()
    assert "split, split_out2 = torch.chunk(x, 2, dim=1)" in source
    # The input is called x, so values flowing from one line to the next use y.
    assert "y = self.fb(split_out2)" in source
    assert "add = split + y" in source
    x = rng.standard_normal((6, 4))
    total, second = run(model, x)
    expected_second = x[3:]
    expected_total = x[:3] + (wb.astype(np.float64) @ expected_second + bb[:, None])
    assert rel_err(second.numpy().T, expected_second) <= TOL
    assert rel_err(total.numpy().T, expected_total) <= TOL


def test_network_nested_two_objects_deep_is_found_and_converted(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An RL agent as MATLAB nests it (agent → Critic → Model → any.DLTModelExternal),
    written with the project's writer; the agent classes are stand-ins with the real names.
    """
    layers, conns = _residual_dag(rng)
    layers, conns = layers[:-1], conns[:-1]  # a dlnetwork has no output layer
    net = w.dlnetwork(layers, conns)
    model_obj = w.DltObject(
        "rl.internal.model.DLTModel",
        {"any": w.struct({"Version": w.double(1), "DLTModelExternal": net})},
        {},
    )
    critic = MatlabOpaque(
        properties={"Model": model_obj, "UseDevice": np.array(["cpu"])},
        classname="rl.function.rlQValueFunction",
    )
    agent = MatlabOpaque(
        properties={"Critic": critic, "SampleTime": np.array([[1.0]])},
        classname="rl.agent.rlDQNAgent",
    )
    path = tmp_path / "agent.mat"
    w.write_mat(path, {"agent": agent, "opts": np.array([[1.0, 2.0]])})
    found = mat.find_networks(mat.load(path).variables)
    assert [(f.path, f.kind) for f in found] == [
        ("agent.Critic.Model.any.DLTModelExternal", "dlnetwork")
    ]
    assert cli.main(["inspect", str(path)]) == 0
    assert (
        "agent.Critic.Model.any.DLTModelExternal  (dlnetwork)"
        in capsys.readouterr().out
    )
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "convert",
                str(path),
                "-o",
                str(out),
                "--variable",
                "agent.Critic.Model.any.DLTModelExternal",
            ]
        )
        == 0
    )
    module = import_generated(out)
    model = module.load_model()
    x = rng.standard_normal((9, 8, 3, 2))
    expected = reference_graph(net, {"data": x})
    assert rel_err(run(model, x).numpy().T, as_matlab_features(expected["prob"])) <= TOL
    with pytest.raises(ConversionError, match="no network at variable 'agent.Critic'"):
        api.convert_file(path, variable="agent.Critic")


def test_networks_in_structs_cells_maps_and_layer_arrays_are_found_by_path(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Written with the project's writer: a struct holding a cell of networks, a
    containers.Map, and a bare layer array without an input layer."""
    from matio.utils.matclass import MatlabContainerMap

    def net(out: int):  # type: ignore[no-untyped-def]
        return w.series_network(
            [
                w.feature_input("x", 3),
                w.fully_connected("fc", rand(rng, out, 3), rand(rng, out)),
            ]
        )

    nets = {"s.nets{2}": net(2), "s.best": net(3), "m('critic')": net(4)}
    variables = {
        "s": w.struct(
            {
                "nets": w.cell([np.array([[1.0]]), nets["s.nets{2}"]]),
                "best": nets["s.best"],
            }
        ),
        "m": MatlabContainerMap({"critic": nets["m('critic')"]}),
        "arr": w.layer_array([w.relu(""), w.relu("")]),
    }
    path = tmp_path / "nested.mat"
    w.write_mat(path, variables)
    report = api.inspect_file(path)
    assert [(n["path"], n["kind"]) for n in report["networks"]] == [
        ("s.nets{2}", "SeriesNetwork"), ("s.best", "SeriesNetwork"), ("m('critic')", "SeriesNetwork"), ("arr", "LayerArray"),
    ]  # fmt: skip
    arr = report["networks"][3]
    assert (
        arr["error"]
        and "layer 'relu_1' (nnet.cnn.layer.ReLULayer) has no input connected"
        in arr["error"]
    )
    x = rng.standard_normal((3, 2))
    for variable, network in nets.items():
        out = tmp_path / re.sub(r"\W", "_", variable)
        _, _module, model = convert_into(path, out, variable)
        expected = reference_graph(network, {"x": x})["fc"]
        assert rel_err(run(model, x).numpy().T, expected) <= TOL


# ---------------------------------------------------------------------------- untrained


def test_partly_trained_graph_stores_only_values_it_has(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Written with the project's writer: conv1 has weights, conv2 and the input mean none."""
    w1, b1 = rand(rng, 3, 3, 2, 4), rand(rng, 4)
    layers = [
        w.image_input("inp", (6, 6, 2), "zerocenter", mean=None),
        w.conv2d("conv1", w1, b1, padding=(1, 1, 1, 1)),
        w.conv2d(
            "conv2",
            filter_size=(3, 3),
            num_filters=2,
            padding_mode="same",
            padding=None,
        ),
        w.depth_concatenation("cat", 2),
    ]
    conns = [
        ("inp", "conv1"),
        ("conv1", "conv2"),
        ("conv2", "cat/in1"),
        ("conv1", "cat/in2"),
    ]
    module, model, path = write_and_convert(
        tmp_path, {"lg": w.layer_graph(layers, conns)}
    )
    result = api.convert_file(path)
    assert (
        result.warnings
        and "UNTRAINED" in result.warnings[0]
        and "3 of 5" in result.warnings[0]
    )
    stored = set(api.weights.read(tmp_path / "out_net" / "model.safetensors"))
    assert stored == {"conv1.weight", "conv1.bias"}
    assert module.UNTRAINED_KEYS == ("conv2.bias", "conv2.weight", "inp_mean")
    assert torch.equal(
        model.conv1.weight, torch.from_numpy(w1.transpose(3, 2, 0, 1).copy())
    )
    assert tuple(run(model, rng.standard_normal((6, 6, 2, 1))).shape) == (1, 6, 6, 6)
    source = (tmp_path / "out_net" / "model.py").read_text()
    assert "strict=False" in source and "# UNTRAINED" in source
    from safetensors.torch import save_file

    # A weights file that lacks a stored key, or has a foreign one, is refused.
    save_file(
        {"conv1.weight": model.conv1.weight.detach()},
        str(tmp_path / "partial.safetensors"),
    )
    with pytest.raises(RuntimeError, match="does not fit"):
        module.load_model(tmp_path / "partial.safetensors")
    save_file(
        {**model.state_dict(), "bogus": torch.zeros(1)},
        str(tmp_path / "extra.safetensors"),
    )
    with pytest.raises(RuntimeError, match="unexpected"):
        module.load_model(tmp_path / "extra.safetensors")
    save_file(
        dict(model.state_dict()), str(tmp_path / "trained.safetensors")
    )  # after training: all keys
    assert module.load_model(tmp_path / "trained.safetensors") is not None


# ---------------------------------------------------------------------------- errors


def test_graph_errors_are_sentences(tmp_path: Path, rng: np.random.Generator) -> None:
    relu = w.relu("loose")
    layers = [
        w.feature_input("x", 3),
        w.fully_connected("fc", rand(rng, 2, 3), rand(rng, 2)),
        relu,
    ]
    with pytest.raises(
        ConversionError,
        match=r"layer 'loose' \(nnet.cnn.layer.ReLULayer\) has no input connected",
    ):
        write_and_convert(tmp_path, {"net": w.layer_graph(layers, [("x", "fc")])})
    cyc = [w.feature_input("x", 3), w.relu("a"), w.relu("b"), w.addition("add", 2)]
    with pytest.raises(ConversionError, match="cycle"):
        write_and_convert(
            tmp_path,
            {
                "net": w.layer_graph(
                    cyc, [("x", "add/in1"), ("add", "a"), ("a", "b"), ("b", "add/in2")]
                )
            },
            name="c.mat",
        )
    with pytest.raises(ConversionError, match="'nowhere', which is not in the network"):
        write_and_convert(
            tmp_path,
            {"net": w.layer_graph(layers[:2], [("x", "fc"), ("fc", "nowhere")])},
            name="d.mat",
        )
    with pytest.raises(ConversionError, match=r"output 'out3' of 'fc'"):
        write_and_convert(
            tmp_path,
            {"net": w.layer_graph(layers, [("x", "fc"), ("fc/out3", "loose")])},
            name="e.mat",
        )
