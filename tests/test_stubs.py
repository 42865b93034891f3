"""--stub-unsupported: layers with no code in the file become explicit stubs.

The workflow a user follows: convert with stubs, port the MATLAB predict() into the
stub's forward, and get MATLAB's answer. Checked on real files whose user-defined layers
are simple enough to port here, against the NumPy reference with the same port.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codegen.api import convert
from codegen.reference import matlab_numpy as ref
from tests.conftest import corpus_file, import_generated


def _run_reference(
    path: Path, variable: str, x: np.ndarray, custom: dict
) -> np.ndarray:
    objects, _ = ref.network_layers(ref.load_mat(str(path))[variable])
    return ref.run_layers(objects, x, custom)


def test_eeg_identity_layers_become_stubs_and_port_cleanly(tmp_path: Path) -> None:
    path = corpus_file("dltoolbox", "eeg_eegNet.mat")
    result = convert(path, tmp_path, stub_unsupported=True)
    assert any(
        "identityLayer" in note and "NotImplementedError" in note
        for note in result.warnings
    )
    source = (tmp_path / "model.py").read_text()
    assert (
        source.count("class IdentityLayerStub(nn.Module):") == 1
    )  # one class, four uses
    assert source.count("= IdentityLayerStub()") == 4
    assert "--stub-unsupported" in source

    module = import_generated(tmp_path)
    model = module.load_model()
    x = torch.from_numpy(
        np.random.default_rng(3).standard_normal((1, 1, 21, 6000)).astype(np.float32)
    )
    with pytest.raises(NotImplementedError, match="identityLayer"):
        model.predict(x)

    module.IdentityLayerStub.forward = (
        lambda self, inputs: inputs
    )  # the user's port of predict()
    with torch.no_grad():
        got = (
            model.predict(x).numpy().reshape(1, -1)
        )  # the last conv leaves (N, 2, 1, 1), as MATLAB's 1×1×2×N
    expected = _run_reference(
        path,
        "net",
        x.numpy().astype(np.float64).transpose(2, 3, 1, 0),
        {"identityLayer": lambda props, inputs: inputs},
    )
    expected = expected.reshape(-1, 1, order="F").T
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_mimo_user_output_layer_is_dropped_and_sigmoid_stub_ports(
    tmp_path: Path,
) -> None:
    path = corpus_file("dltoolbox", "mimo_trainedNet.mat")
    convert(path, tmp_path, stub_unsupported=True)
    module = import_generated(tmp_path)
    source = (tmp_path / "model.py").read_text()
    assert "SigmoidLayerStub" in source
    assert (
        "SigmoidClassificationLayerStub" not in source
    )  # a user output layer is training-only
    assert module.RESPONSE_NAMES == ("Response",)

    model = module.load_model()
    module.SigmoidLayerStub.forward = lambda self, inputs: torch.sigmoid(inputs)
    objects, _ = ref.network_layers(ref.load_mat(str(path))["net"])
    h, w, c = (int(v) for v in ref.layer_props(objects[0])["InputSize"].ravel())
    x = np.random.default_rng(4).standard_normal((3, c, h, w)).astype(np.float32)
    with torch.no_grad():
        got = model.predict(torch.from_numpy(x)).numpy()
    expected = ref.run_layers(
        objects,
        x.astype(np.float64).transpose(2, 3, 1, 0),
        {"sigmoidLayer": lambda props, inputs: 1 / (1 + np.exp(-inputs))},
    )
    expected = expected.reshape(-1, 3, order="F").T
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_function_layers_get_one_stub_each_with_their_source(tmp_path: Path) -> None:
    """pac48: two FunctionLayers with different functions; the text is shown, never run."""
    path = corpus_file("dltoolbox", "pac48_imagecontrolBC_dlnet.mat")
    convert(path, tmp_path, stub_unsupported=True)
    source = (tmp_path / "model.py").read_text()
    assert "class Layer2FunctionStub(nn.Module):" in source
    assert "class Layer3FunctionStub(nn.Module):" in source
    assert repr("@(W)[XFlat*W;YFlat*W]") in source
    # The layer after the stubs takes its input size from its stored weights.
    assert "taken from the stored weights" in source
    module = import_generated(tmp_path)
    model = module.load_model()
    with pytest.raises(NotImplementedError, match="XFlat"):
        module.Layer3FunctionStub()(torch.zeros(1))
    assert sum(isinstance(m, module.Layer2FunctionStub) for m in model.modules()) == 1


def test_stubs_of_built_in_layers_point_to_matlab_documentation(tmp_path: Path) -> None:
    """Built-in layers mat2torch does not convert are MATLAB's code, not the user's: the
    stub says which toolbox layer it is and where MATLAB documents it. Schema inferred,
    no real sample: sinusoidalPositionEncodingLayer as a saveobj struct {Version, Name,
    OutputSize} like PositionEmbeddingLayer; rl.layer.QuadraticLayer with plain
    properties like ScalingLayer.
    """
    from codegen.errors import ConversionError
    from codegen.testing import dltwriter as w

    encoding = w.DltObject(
        "nnet.cnn.layer.SinusoidalPositionEncodingLayer",
        {
            "any": w.struct(
                {
                    "Version": w.double(1),
                    "Name": w.char("posenc"),
                    "OutputSize": w.double(3),
                }
            )
        },
        {"Version": w.double(1)},
    )
    quadratic = w.DltObject(
        "rl.layer.QuadraticLayer",
        {
            "Name": w.char("quad"),
            "Description": w.char("Quadratic layer"),
            "Type": w.char(""),
        },
        {"Version": w.double(1)},
    )
    net = w.layer_graph(
        [w.feature_input("x", 3), encoding, quadratic],
        [("x", "posenc"), ("posenc", "quad")],
    )
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": net})
    with pytest.raises(ConversionError) as info:
        convert(path, tmp_path / "plain")
    assert "built-in layer classes are not supported yet" in str(info.value)
    assert "user-defined" not in str(info.value)

    result = convert(path, tmp_path / "out", stub_unsupported=True)
    notes = " ".join(result.warnings)
    assert "built-in MATLAB layers 'posenc'" in notes and "predict()" not in notes
    # docstrings are wrapped to 88 columns: compare with whitespace runs as one space
    source = " ".join((tmp_path / "out" / "model.py").read_text().split())
    assert "user-defined" not in source and "port the predict" not in source
    assert (
        "Stand-in for the built-in MATLAB layer "
        "'nnet.cnn.layer.SinusoidalPositionEncodingLayer' (Deep Learning Toolbox)"
        in source
    )
    assert "documentation page 'SinusoidalPositionEncodingLayer'" in source
    assert "'rl.layer.QuadraticLayer' (Reinforcement Learning Toolbox)" in source
    assert "MATLAB describes it as 'Quadratic layer'." in source
    module = import_generated(tmp_path / "out")
    with pytest.raises(
        NotImplementedError, match="MATLAB documentation page QuadraticLayer"
    ):
        module.QuadraticLayerStub()(torch.zeros(1))


def test_user_defined_stub_still_asks_for_a_port_of_predict(tmp_path: Path) -> None:
    path = corpus_file("dltoolbox", "eeg_eegNet.mat")
    convert(path, tmp_path, stub_unsupported=True)
    source = (tmp_path / "model.py").read_text()
    assert "Stand-in for the user-defined MATLAB layer class 'identityLayer'" in source
    assert "built-in MATLAB layer" not in source
