"""--plugin / convert(plugins=[...]): a user's own layer classes through the public
registry interface, checked with the documented example plugins on the corpus networks
that use such classes (mimo: sigmoidLayer; eeg: identityLayer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codegen import api, cli, verify
from codegen.layers import registry
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy.user_layers import CORPUS_USER_LAYERS
from tests.conftest import REPO, corpus_file, import_generated

pytestmark = pytest.mark.filterwarnings("ignore")

PLUGINS = REPO / "examples" / "plugins"
SIGMOID = PLUGINS / "sigmoid_layer.py"
IDENTITY = PLUGINS / "identity_layer.py"


def _expected(path: Path, x_matlab: np.ndarray) -> np.ndarray:
    """The NumPy reference, with the corpus classes' predict semantics from
    codegen.reference (not from the plugins)."""
    objects, _ = ref.network_layers(ref.load_mat(str(path))["net"])
    return ref.run_layers(objects, x_matlab, CORPUS_USER_LAYERS)


def test_mimo_converts_with_the_sigmoid_plugin_and_matches_the_reference(
    tmp_path: Path,
) -> None:
    path = corpus_file("dltoolbox", "mimo_trainedNet.mat")
    api.convert(path, tmp_path, plugins=[SIGMOID])
    source = (tmp_path / "model.py").read_text()
    assert "--plugin sigmoid_layer.py" in source
    assert "torch.sigmoid(" in source and "Stub" not in source
    module = import_generated(tmp_path)
    assert module.RESPONSE_NAMES == ("Response",)
    model = module.load_model()
    objects, _ = ref.network_layers(ref.load_mat(str(path))["net"])
    h, w, c = (int(v) for v in ref.layer_props(objects[0])["InputSize"].ravel())
    x = np.random.default_rng(5).standard_normal((3, c, h, w)).astype(np.float32)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    expected = _expected(path, x.astype(np.float64).transpose(2, 3, 1, 0))
    expected = expected.reshape(-1, 3, order="F").T
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_eeg_converts_with_the_identity_plugin_and_matches_the_reference(
    tmp_path: Path,
) -> None:
    path = corpus_file("dltoolbox", "eeg_eegNet.mat")
    assert (
        cli.main(["convert", str(path), "-o", str(tmp_path), "--plugin", str(IDENTITY)])
        == 0
    )
    source = (tmp_path / "model.py").read_text()
    assert source.count("= nn.Identity()") == 4  # from templates/eeg_identity.py.jinja
    model = import_generated(tmp_path).load_model()
    x = np.random.default_rng(3).standard_normal((1, 1, 21, 6000)).astype(np.float32)
    with torch.no_grad():
        got = model.predict(torch.from_numpy(x)).numpy().reshape(1, -1)
    expected = _expected(path, x.astype(np.float64).transpose(2, 3, 1, 0))
    expected = expected.reshape(-1, 1, order="F").T
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize(
    ("name", "plugin"),
    [("mimo_trainedNet.mat", SIGMOID), ("eeg_eegNet.mat", IDENTITY)],
)
def test_verify_random_with_plugins_layer_by_layer(name: str, plugin: Path) -> None:
    report = verify.verify_random(
        corpus_file("dltoolbox", name), 2, plugins=[plugin], custom=CORPUS_USER_LAYERS
    )
    assert report.passed, verify.format_report(report)
    assert len([r for r in report.rows if r.kind == "layer"]) >= 15


def test_a_wrong_plugin_template_is_caught_by_verify(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_sigmoid.py"
    wrong.write_text(
        SIGMOID.read_text().replace(
            "torch.sigmoid({{ args[0] }})", "torch.tanh({{ args[0] }})"
        )
    )
    report = verify.verify_random(
        corpus_file("dltoolbox", "mimo_trainedNet.mat"),
        2,
        plugins=[wrong],
        custom=CORPUS_USER_LAYERS,
    )
    assert not report.passed and report.first_divergence == "layer"


def test_plugins_last_for_one_conversion(tmp_path: Path) -> None:
    before = dict(registry.registrations())
    api.convert_file(corpus_file("dltoolbox", "mimo_trainedNet.mat"), plugins=[SIGMOID])
    assert registry.registrations() == before
    assert registry.lookup("sigmoidLayer") is None
    from codegen import plugins

    assert plugins.template_source("mimo_sigmoid") is None


def _convert_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> tuple[int, str]:
    plugin = tmp_path / "my_layers.py"
    plugin.write_text(text)
    out = tmp_path / "out"
    code = cli.main(
        [
            "convert",
            str(corpus_file("dltoolbox", "mimo_trainedNet.mat")),
            "-o",
            str(out),
            "--plugin",
            str(plugin),
        ]
    )
    assert not out.exists() or not any(out.iterdir())  # no partial output
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "from codegen.plugins import register_layer\n"
            "@register_layer('nnet.cnn.layer.ReLULayer', op='my_relu', template="
            "'{% macro init(node) %}{% endmacro %}{% macro forward(node, args) %}x{% endmacro %}')\n"
            "def f(layer, inputs):\n    return None\n",
            "already converted by mat2torch",
        ),
        (
            "from codegen.plugins import register_layer\n"
            "@register_layer('sigmoidLayer', op='my_sig', template='{% macro init(node) %}{% endmacro %}')\n"
            "def f(layer, inputs):\n    return None\n",
            "lacks the macro(s) forward",
        ),
        ("raise RuntimeError('boom')\n", "the plugin raised RuntimeError: boom"),
        (
            "from codegen.plugins import register_layer\n"
            "@register_layer('sigmoidLayer', op='my_sig', template="
            "'{% macro init(node) %}{% endmacro %}{% macro forward(node, args) %}x{% endmacro %}')\n"
            "def my_converter(layer, inputs):\n    return {}['missing']\n"
            "@register_layer('sigmoidClassificationLayer')\n"
            "def out(layer, inputs):\n    return None\n",
            "could not be converted by plugin my_layers.py (KeyError: 'missing'); "
            "fix its converter my_converter()",
        ),
        (
            "from codegen.plugins import register_layer, same_shape\n"
            "@register_layer('sigmoidLayer', op='my_sig', template="
            "'{% macro init(node) %}{% endmacro %}{% macro forward(node, args) %}x{% endmacro %}')\n"
            "def conv(layer, inputs):\n    return same_shape(layer, inputs, 'relu')\n"
            "@register_layer('sigmoidClassificationLayer')\n"
            "def out(layer, inputs):\n    return None\n",
            "returned op 'relu', but registered my_sig",
        ),
        (
            "from codegen.plugins import Dropped, register_layer, same_shape\n"
            "@register_layer('sigmoidLayer', op='my_sig', template="
            "'{% macro init(node) %}{% endmacro %}{% macro forward(node, args) %}"
            "{{ node.attrs.nothing }}{% endmacro %}')\n"
            "def conv(layer, inputs):\n    return same_shape(layer, inputs, 'my_sig')\n"
            "@register_layer('sigmoidClassificationLayer')\n"
            "def out(layer, inputs):\n    return Dropped()\n",
            "a plugin's template did not render valid Python (UndefinedError",
        ),
        (
            "from codegen.plugins import register_layer\n"
            "@register_layer('sigmoidLayer', op='relu', template='')\n"
            "def f(layer, inputs):\n    return None\n",
            "op 'relu' is already taken",
        ),
    ],
)
def test_plugin_mistakes_are_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    code, err = _convert_with(tmp_path, capsys, text)
    assert code == 2 and message in err
    assert "my_layers.py" in err or "template" in err
    assert len(err.strip().splitlines()) == 1 and "bug in mat2torch" not in err


def test_plugins_are_documented() -> None:
    doc = (REPO / "docs" / "plugins.md").read_text()
    for needed in (
        "register_layer",
        "template_dir",
        "runs",
        "sigmoid_layer.py",
        "identity_layer.py",
        "verify",
    ):
        assert needed in doc, needed
    assert "docs/plugins.md" in (REPO / "README.md").read_text()


def test_inspect_with_a_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus_file("dltoolbox", "mimo_trainedNet.mat")
    assert cli.main(["inspect", "--json", str(path), "--plugin", str(SIGMOID)]) == 0
    (net,) = json.loads(capsys.readouterr().out)["networks"]
    assert net["error"] is None
    assert {
        "name": "layer",
        "class": "sigmoidLayer",
        "op": "mimo_sigmoid",
        "properties": {},
    } in net["layers"]


def test_verify_random_needs_a_reference_for_user_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "no_reference.py"
    bare.write_text(
        SIGMOID.read_text().replace("    reference=_sigmoid_reference,\n", "")
    )
    path = corpus_file("dltoolbox", "mimo_trainedNet.mat")
    code = cli.main(["verify", str(path), "--random", "1", "--plugin", str(bare)])
    err = capsys.readouterr().err
    assert code == 2 and "'sigmoidLayer'" in err and "reference= function" in err
    assert "custom=" not in err


def test_a_plugin_may_define_dataclasses(tmp_path: Path) -> None:
    plugin = tmp_path / "with_dataclass.py"
    plugin.write_text(
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class Settings:\n    gain: float = 1.0\n" + SIGMOID.read_text()
    )
    result = api.convert_file(
        corpus_file("dltoolbox", "mimo_trainedNet.mat"), plugins=[plugin]
    )
    assert "torch.sigmoid(" in result.source
