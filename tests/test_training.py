"""Training with a converted model: logits from forward, MATLAB's probabilities from
predict, a loader that survives an edited head, and a class usable before loading."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from codegen.api import convert
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as dw
from tests.conftest import REPO, convert_and_load, corpus_file, import_generated
from tests.support import as_matlab_features, reference_graph, rel_err, to_torch

TINY_CNN = REPO / "examples" / "tiny_cnn.mat"


def test_ccn_net_cross_entropy_on_forward_has_the_gradients_of_matlab_scores(
    tmp_path: Path,
) -> None:
    """nn.CrossEntropyLoss on forward's output is the loss on MATLAB's pre-softmax
    scores (the NumPy reference): same loss, same gradients, same SGD step."""
    path = corpus_file("dltoolbox", "ccn_net.mat")
    module, model = convert_and_load(path, tmp_path)
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 255, size=(150, 150, 3, 4)).astype(np.float32)
    labels = torch.tensor([3, 0, 9, 5])
    outs = reference_graph(ref.load_mat(str(path))["net"], {"imageinput": x})
    scores = torch.tensor(as_matlab_features(outs["fc_2"]).T, requires_grad=True)
    features = torch.tensor(as_matlab_features(outs["fc_1"]).T)
    expected_loss = nn.CrossEntropyLoss()(scores, labels)
    expected_loss.backward()
    assert scores.grad is not None
    expected_weight_grad = scores.grad.T @ features  # fc_2: scores = W·features + b
    expected_bias_grad = scores.grad.sum(0)

    # forward gives MATLAB's scores, predict their softmax (MATLAB's own ONNX export
    # checks predict's probabilities: tests/test_series_networks.py).
    with torch.no_grad():
        logits = model(to_torch(x))
        assert torch.equal(model.predict(to_torch(x)), torch.softmax(logits, dim=1))
    assert rel_err(logits.numpy(), scores.detach().numpy()) <= 1e-5

    # Eval mode: batch norm uses its trained statistics, as MATLAB's predict does.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    optimizer.zero_grad()
    loss = nn.CrossEntropyLoss()(model(to_torch(x)), labels)
    loss.backward()
    assert abs(loss.item() - expected_loss.item()) <= 1e-5 * abs(expected_loss.item())
    assert rel_err(model.fc_2.weight.grad, expected_weight_grad) <= 1e-4
    assert rel_err(model.fc_2.bias.grad, expected_bias_grad) <= 1e-4
    before = model.fc_2.weight.detach().clone()
    optimizer.step()
    step = before - model.fc_2.weight.detach()
    assert rel_err(step, 0.01 * expected_weight_grad) <= 1e-4

    # Negative control: the loss on predict's probabilities applies softmax twice.
    model.load_state_dict(module.load_model().state_dict())
    model.zero_grad()
    nn.CrossEntropyLoss()(model.predict(to_torch(x)), labels).backward()
    assert rel_err(model.fc_2.bias.grad, expected_bias_grad) > 0.1


def _module_docstring_recipe(source: str) -> tuple[str, str, int]:
    """(the head's line as converted, the line the recipe replaces it with, in_features)."""
    docstring = source.split('"""')[1]
    found = re.search(
        r"``(self\.(\w+) = nn\.Linear\((\d+), 5\))``\s+\(was\s+``(nn\.Linear\(\d+, \d+\))``\)",
        docstring,
    )
    assert found is not None, docstring
    new_line, head, in_features, old = found.groups()
    return f"self.{head} = {old}", new_line, int(in_features)


def test_a_new_head_for_five_classes_loads_trains_saves_and_reloads(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    convert(TINY_CNN, out)
    original = import_generated(out).load_model()
    source = (out / "model.py").read_text()
    old_line, new_line, in_features = _module_docstring_recipe(source)
    assert source.count(old_line) == 1
    (out / "model.py").write_text(source.replace(old_line, new_line))
    module = import_generated(out)

    # The documented call: every converted weight but the new head's.
    with pytest.warns(UserWarning, match=r"fc\.weight.*fc\.bias"):
        model = module.load_model(strict=False)
    for key, value in original.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key
    x = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(5)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward()
    optimizer.step()
    assert model.fc.weight.grad is not None and model.fc.out_features == 5

    save_file(model.state_dict(), str(tmp_path / "tuned.safetensors"))
    reloaded = module.load_model(tmp_path / "tuned.safetensors")  # strict
    model.eval()
    with torch.no_grad():
        assert torch.equal(reloaded(x), model(x))
        assert reloaded.predict(x).shape == (5, 5)

    # Strict loading of the converted weights into the edited class names the mismatch.
    with pytest.raises(RuntimeError, match="size mismatch for fc.weight"):
        module.load_model()

    # The session-only variant: replace the attribute after loading the unedited file.
    unedited = original
    unedited.fc = nn.Linear(in_features, 5)
    unedited.train()
    nn.CrossEntropyLoss()(unedited(x), labels).backward()
    assert unedited.fc.weight.grad is not None


def test_load_model_places_the_model_on_map_location(tmp_path: Path) -> None:
    convert(TINY_CNN, tmp_path)
    model = import_generated(tmp_path).load_model(map_location=torch.device("cpu"))
    assert {p.device.type for p in model.state_dict().values()} == {"cpu"}
    assert not model.training


def test_a_class_constructed_without_load_model_gives_finite_outputs(
    tmp_path: Path,
) -> None:
    """Placeholder statistics (zscore std, rescale min/max) are harmless before loading."""
    convert(TINY_CNN, tmp_path / "tiny")
    tiny = import_generated(tmp_path / "tiny")
    assert "self.input_std" in (tmp_path / "tiny" / "model.py").read_text()
    cls = type(tiny.load_model())
    with torch.no_grad():
        assert torch.isfinite(cls()(torch.rand(2, 1, 16, 16))).all()

    rng = np.random.default_rng(3)
    layers = [
        dw.image_input(
            "in",
            (4, 4, 2),
            "rescale-symmetric",
            min=rng.standard_normal((1, 1, 2)),
            max=rng.standard_normal((1, 1, 2)) + 5,
        ),
        dw.conv2d("conv", rng.standard_normal((3, 3, 2, 2)), rng.standard_normal(2)),
        dw.scaling_layer("scale", rng.standard_normal((1, 1, 2)) + 2, 0.5),
    ]
    dw.write_mat(tmp_path / "net.mat", {"net": dw.series_network(layers)})
    convert(tmp_path / "net.mat", tmp_path / "rescale")
    source = (tmp_path / "rescale" / "model.py").read_text()
    assert "in_max" in source and "scale_scale" in source
    module = import_generated(tmp_path / "rescale")
    cls = type(module.load_model())
    with torch.no_grad():
        assert torch.isfinite(cls()(torch.rand(2, 2, 4, 4))).all()
