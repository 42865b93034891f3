"""Every generated example works with the tools people point at a PyTorch model.

torch.jit.script, torch.jit.trace, torch.compile (backend "eager": Dynamo's graph
capture without a compiler, fast on CPU; nn.LSTM / nn.GRU are graph breaks Dynamo runs
in Python) and torch.export.export (batch dimension
dynamic through torch.export.Dim) each run every generated_examples/*/model.py on a
small input and must agree with eager mode; scripted sequence models are also run with
``lengths``. mypy, with its default settings (what ``mypy model.py`` does in a user's
repository: annotated functions are checked, unannotated ones such as ``from_matlab``
are not), must find no error in any of them.

Weights: the example's model.safetensors where it has one (load_model()); otherwise
PyTorch's default initialisation under a fixed seed, which is all a comparison of the
same module run two ways needs. Input sizes come from the class docstring's
``float tensor (N, ...)`` lines, with small stand-ins for the free sizes.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.conftest import REPO

EXAMPLES = sorted(p.parent for p in (REPO / "generated_examples").glob("*/model.py"))
# Free sizes in the docstring's shapes: batch 2 (1 would let export specialise it).
FREE = {"N": 2, "T": 5, "H": 12, "W": 12, "D": 6, "C": 3}


def _load(folder: Path) -> tuple[ModuleType, torch.nn.Module]:
    name = f"example_{folder.name}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if (folder / "model.safetensors").is_file():
        return module, module.load_model()
    returned = module.load_model.__annotations__["return"]
    cls = getattr(module, returned) if isinstance(returned, str) else returned
    torch.manual_seed(0)
    return module, cls().eval()


def _inputs(model: torch.nn.Module, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """Random inputs of the shapes the class docstring gives, in forward's order."""
    doc = type(model).__doc__ or ""
    shapes = re.findall(r"Input ``(\w+)``:\s+float tensor \(([^)]*)\)", doc)
    assert shapes, f"no input shapes in the docstring of {type(model).__name__}"
    generator = torch.Generator().manual_seed(1)
    tensors = []
    for _, dims in shapes:
        sizes = [
            batch if d == "N" else FREE[d] if d in FREE else int(d)
            for d in (d.strip() for d in dims.split(","))
        ]
        tensors.append(torch.randn(*sizes, generator=generator))
    return tuple(tensors)


def _outputs(result: object) -> list[torch.Tensor]:
    return list(result) if isinstance(result, tuple | list) else [result]  # type: ignore[list-item]


def _assert_close(got: object, expected: object, what: str) -> None:
    for g, e in zip(_outputs(got), _outputs(expected), strict=True):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5, msg=what)


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.name)
def example(request: pytest.FixtureRequest) -> tuple[ModuleType, torch.nn.Module]:
    return _load(request.param)


def test_every_example_is_covered() -> None:
    assert len(EXAMPLES) >= 10
    assert {"faultdet_TrainedModel", "tsx_transformer_demo"} <= {
        p.name for p in EXAMPLES
    }


def test_script_trace_compile_export_agree_with_eager(
    example: tuple[ModuleType, torch.nn.Module],
) -> None:
    _, model = example
    x = _inputs(model)
    with torch.no_grad():
        eager = model(*x)
        scripted = torch.jit.script(model)
        _assert_close(scripted(*x), eager, "torch.jit.script")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, x, check_trace=False)
        _assert_close(traced(*x), eager, "torch.jit.trace")
        torch._dynamo.reset()
        compiled = torch.compile(model, backend="eager")
        _assert_close(compiled(*x), eager, "torch.compile")
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(
        model, x, dynamic_shapes=tuple({0: batch} for _ in x)
    )
    with torch.no_grad():
        _assert_close(exported.module()(*x), eager, "torch.export")
        # The batch dimension stays free: another batch size runs too.
        x3 = _inputs(model, batch=3)
        _assert_close(exported.module()(*x3), model(*x3), "torch.export, batch 3")


def test_scripted_sequence_models_follow_lengths(
    example: tuple[ModuleType, torch.nn.Module],
) -> None:
    _, model = example
    if "lengths" not in model.forward.__code__.co_varnames:
        return  # nothing sequence-length dependent in this model
    x = _inputs(model)
    lengths = torch.tensor([FREE["T"], 2])
    with torch.no_grad():
        eager = model(*x, lengths)
        _assert_close(torch.jit.script(model)(*x, lengths), eager, "script, lengths")
        # Each sequence alone gives what it gives in the padded batch.
        short = model(*(t[1:2, :2] for t in x))
        _assert_close(_outputs(eager)[0][1:2], _outputs(short)[0], "lengths")


def test_mypy_finds_no_error_in_any_example(tmp_path: Path) -> None:
    # One run over copies with distinct module names (each example is a "model.py").
    for folder in EXAMPLES:
        shutil.copy(folder / "model.py", tmp_path / f"{folder.name}.py")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--cache-dir",
            str(REPO / ".mypy_cache" / "generated_examples"),
            *sorted(str(p) for p in tmp_path.glob("*.py")),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
