"""The generator itself: registry/template coverage, names, determinism, CLI behaviour."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import black
import pytest

from codegen.emit import pyrepr, templates_dir
from codegen.layers.registry import all_ops, register, registrations
from codegen.passes.names import legalize
from tests.conftest import REPO, convert_and_load, corpus_file


def run_cli(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_every_op_has_a_template_and_every_template_an_op() -> None:
    templates = {
        p.name.removesuffix(".py.jinja")
        for p in (templates_dir() / "layers").glob("*.py.jinja")
    }
    assert templates == all_ops()


def test_registering_a_class_twice_raises() -> None:
    existing = next(iter(registrations()))
    with pytest.raises(ValueError, match="registered twice"):
        register(existing, ops=("relu",))(lambda layer, inputs: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("name", "ident"),
    [
        ("conv_1", "conv_1"),
        ("conv-1", "conv_1"),
        ("1st layer", "layer_1st_layer"),
        ("class", "class_"),
        ("input", "input_"),
        ("self", "self_"),
        ("fc/out", "fc_out"),
        ("ünïcode", "unicode"),
        ("", "layer"),
    ],
)
def test_legalize(name: str, ident: str) -> None:
    assert legalize(name) == ident
    assert ident.isidentifier()


def test_pyrepr_is_exact() -> None:
    import numpy as np

    assert pyrepr(np.float32(0.1)) == repr(float(np.float32(0.1)))
    assert pyrepr((1,)) == "(1,)"
    assert pyrepr(float("-inf")) == 'float("-inf")'
    assert pyrepr('it\'s "quoted"\n') == repr('it\'s "quoted"\n')
    assert ast.literal_eval(pyrepr(("a", 1.5e-05, (2, 3)))) == ("a", 1.5e-05, (2, 3))


def test_generated_file_is_standalone_black_stable_and_strict(tmp_path: Path) -> None:
    module, model = convert_and_load(corpus_file("dltoolbox", "ccn_net.mat"), tmp_path)
    source = (tmp_path / "model.py").read_text()
    assert black.format_str(source, mode=black.Mode()) == source
    tree = ast.parse(source)
    imported = {
        a.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
    }
    imported |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module
    }
    assert imported <= {"torch", "pathlib", "safetensors", "warnings"}
    assert str(REPO) not in source and "/work" not in source
    from safetensors.numpy import load_file

    assert sorted(load_file(str(tmp_path / "model.safetensors"))) == sorted(
        model.state_dict()
    )


def test_output_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    src = corpus_file("dltoolbox", "ccn_net.mat")
    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / seed
        proc = run_cli(
            "convert", str(src), "-o", str(out), env={"PYTHONHASHSEED": seed}
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(
            ((out / "model.py").read_bytes(), (out / "model.safetensors").read_bytes())
        )
    assert outputs[0] == outputs[1]


def test_generated_examples_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/generate_examples.py", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_examples_are_black_clean() -> None:
    files = sorted((REPO / "generated_examples").rglob("*.py"))
    assert files
    for path in files:
        text = path.read_text()
        assert black.format_str(text, mode=black.Mode()) == text, path


def test_several_networks_need_a_variable(tmp_path: Path) -> None:
    proc = run_cli(
        "convert",
        str(corpus_file("dltoolbox", "vikas_net.mat")),
        "-o",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2
    assert "'net' (SeriesNetwork)" in proc.stderr and "--variable" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_wrong_variable_names_what_exists(tmp_path: Path) -> None:
    proc = run_cli(
        "convert",
        str(corpus_file("dltoolbox", "ccn_net.mat")),
        "--variable",
        "nope",
        "-o",
        str(tmp_path),
    )
    assert proc.returncode == 2
    assert "'nope'" in proc.stderr and "'net'" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_corrupt_file_is_one_clear_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mat"
    good = corpus_file("dltoolbox", "ccn_net.mat").read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    proc = run_cli("convert", str(bad), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "broken.mat" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_not_a_mat_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mat"
    bad.write_text("hello")
    proc = run_cli("inspect", str(bad))
    assert (
        proc.returncode == 2
        and "notes.mat" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_existing_output_needs_force(tmp_path: Path) -> None:
    src = str(corpus_file("dltoolbox", "yusuf_trainedNetwork_1.mat"))
    assert run_cli("convert", src, "-o", str(tmp_path)).returncode == 0
    again = run_cli("convert", src, "-o", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr
    assert run_cli("convert", src, "-o", str(tmp_path), "--force").returncode == 0


def test_class_name_option(tmp_path: Path) -> None:
    proc = run_cli(
        "convert",
        str(corpus_file("dltoolbox", "yusuf_trainedNetwork_1.mat")),
        "-o",
        str(tmp_path),
        "--class-name",
        "Surrogate",
    )
    assert proc.returncode == 0, proc.stderr
    source = (tmp_path / "model.py").read_text()
    assert "class Surrogate(nn.Module):" in source
    assert "--class-name Surrogate" in source
    bad = run_cli(
        "convert",
        str(corpus_file("dltoolbox", "yusuf_trainedNetwork_1.mat")),
        "-o",
        str(tmp_path / "x"),
        "--class-name",
        "not valid",
    )
    assert bad.returncode == 2


def test_inspect_lists_networks_and_layers() -> None:
    proc = run_cli("inspect", str(corpus_file("dltoolbox", "vikas_net.mat")))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "net  (SeriesNetwork)" in out and "layers  (LayerArray)" in out
    assert "nnet.cnn.layer.Convolution2DLayer" in out
    assert "image C×H×W = 3×320×320" in out
    assert "parameters:" in out
    assert "out_channels=8 kernel_size=(3, 3)" in out  # each layer's key properties


def test_layer_names_never_shadow_helpers_or_the_class(tmp_path: Path) -> None:
    """A forward variable named like a module-level helper would shadow it (or raise
    UnboundLocalError); names the file defines are reserved."""
    import numpy as np
    import torch

    from codegen.testing import dltwriter as w

    rng = np.random.default_rng(0)
    layers = [
        w.image_input("Net", (5, 5, 2), "none"),
        w.conv2d(
            "pad_symmetric",
            rng.standard_normal((3, 3, 2, 2)).astype(np.float32),
            np.zeros((1, 1, 2), np.float32),
            padding=(1, 1, 1, 1),
            padding_value="symmetric-include-edge",
        ),
        w.relu("from_matlab"),
    ]
    path = tmp_path / "net.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    module, model = convert_and_load(path, tmp_path / "out", class_name="Net")
    source = (tmp_path / "out" / "model.py").read_text()
    assert "def pad_symmetric(" in source and "pad_symmetric_1 = " in source
    assert "from_matlab_ = " in source and "class Net(nn.Module)" in source
    assert model.predict(torch.ones(1, 2, 5, 5)).shape == (1, 2, 5, 5)


def test_hostile_file_names_and_strings_stay_inert(tmp_path: Path) -> None:
    """Text from the file system or the file reaches model.py only as repr'd literals or
    escaped comment/docstring text: quotes, triple quotes and newlines cannot escape."""
    import shutil

    hostile = tmp_path / "x\"\"\"; import os #'''.mat"
    shutil.copy(REPO / "examples" / "tiny_cnn.mat", hostile)
    module, model = convert_and_load(hostile, tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    tree = ast.parse(source)
    assert not any(
        isinstance(n, ast.Import) and any(a.name == "os" for a in n.names)
        for n in ast.walk(tree)
    )
    assert module.__doc__ and 'x"""' in module.__doc__


def test_buffer_names_drop_the_keyword_underscore_unless_taken() -> None:
    from codegen.ir import IMAGE, Graph, GraphInput, Node, TensorInfo
    from codegen.passes.names import assign_names

    info = TensorInfo(IMAGE, (1, 2, 2))
    graph = Graph("f.mat", "0", "net", "SeriesNetwork")
    graph.inputs = [GraphInput("input", info), GraphInput("in", info)]
    graph.nodes = [
        Node("input", "input", "c", ["input"], buffers={"mean": None}, out=info),  # type: ignore[dict-item]
        Node("in", "input", "c", ["in"], buffers={"mean": None}, out=info),  # type: ignore[dict-item]
        Node("input_mean", "relu", "c", ["in"], out=info),
    ]
    assign_names(graph)
    assert [n.ident for n in graph.nodes] == ["input_", "in_", "input_mean_1"]
    assert [n.prefix for n in graph.nodes[:2]] == ["input", "in"]


def test_unknown_fields_from_a_newer_release_are_tolerated(tmp_path: Path) -> None:
    """A future MATLAB release adds fields: the conversion must not change."""
    import sys

    import numpy as np

    from codegen import api
    from codegen.testing import dltwriter as w

    sys.path.insert(0, str(REPO / "examples"))
    try:
        from make_tiny_cnn import build
    finally:
        sys.path.remove(str(REPO / "examples"))
    plain = tmp_path / "plain.mat"
    w.write_mat(plain, {"net": build()})
    extended_net = build()
    for layer in extended_net.properties["any"][0, 0]["Layers"].ravel(order="F"):
        if "any" in layer.properties:
            w.with_fields(
                layer,
                FutureOption=w.char("something"),
                FutureSize=w.double([3, 4]),
                FutureFlag=w.logical(True),
            )
        else:
            layer.properties["FutureOption"] = np.array(["x"])
    extended = tmp_path / "plain_v2.mat"
    w.write_mat(extended, {"net": extended_net})
    a = api.convert_file(plain, class_name="Net")
    b = api.convert_file(extended, class_name="Net")

    def body(text: str) -> str:  # past the header, which names the file and its hash
        text = re.sub(r"sha256=[0-9a-f]{64}", "sha256=", text)  # and WEIGHTS_SOURCE
        return text.split("\n", 2)[2].replace("plain_v2", "plain")

    assert body(a.source) == body(b.source)
    from safetensors.numpy import load

    tensors_a, tensors_b = load(a.tensors), load(b.tensors)
    assert sorted(tensors_a) == sorted(tensors_b)
    assert all(np.array_equal(tensors_a[k], tensors_b[k]) for k in tensors_a)
