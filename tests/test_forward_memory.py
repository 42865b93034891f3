"""The generated forward holds no more memory than a hand-written port of the same modules.

Binding every layer's output to its own local keeps every activation alive until forward
returns: a 512×512 DnCNN forward then peaks at 16–24× the memory of ``x = layer(x)``. The
generated forward frees each activation after its last use; these tests measure the peak
bytes of live tensors (codegen.testing.memory) on the ``meta`` device, which propagates
shapes without computing — the bytes are those a CPU run holds, as the last test checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from codegen.api import convert
from codegen.testing.memory import peak_forward_bytes
from tests import hand_ports
from tests.conftest import REPO, corpus_file, import_generated

# Peak bytes of the generated forward / peak bytes of the hand-written port.
MAX_RATIO = 1.3
EXAMPLES = REPO / "generated_examples"

NETWORKS: dict[str, tuple[tuple[str, str], hand_ports.Port]] = {
    "dncnn_simplenn": (("matconvnet", "dncnn_sigma25.mat"), hand_ports.chain),
    "dncnn_dagnn": (
        ("matconvnet", "dncnn_dagnn_epoch50.mat"),
        hand_ports.residual_chain,
    ),
    "resunet": (("dltoolbox", "resunet_net.mat"), hand_ports.unet),
}


def _load(tmp_path: Path, parts: tuple[str, str]) -> nn.Module:
    convert(corpus_file(*parts), tmp_path, force=True)
    return import_generated(tmp_path).load_model()


def _input(model: nn.Module, size: int, device: str) -> torch.Tensor:
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, first.in_channels, size, size, generator=generator)
    return x.to(device)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_hand_written_port_is_the_same_network(tmp_path: Path, network: str) -> None:
    """The yardstick computes what the generated forward computes."""
    parts, port = NETWORKS[network]
    model = _load(tmp_path, parts)
    x = _input(model, 48, "cpu")
    with torch.no_grad():
        assert torch.allclose(model(x), port(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_peak_forward_memory_of_a_512_image_matches_a_hand_written_port(
    tmp_path: Path, network: str
) -> None:
    parts, port = NETWORKS[network]
    model = _load(tmp_path, parts).to("meta")
    x = _input(model, 512, "meta")
    generated = peak_forward_bytes(lambda: model(x))
    by_hand = peak_forward_bytes(lambda: port(model, x))
    activation = 64 * 512 * 512 * 4  # one 64-channel float32 feature map
    assert by_hand >= 2 * activation  # the measurement sees the activations
    assert generated / by_hand <= MAX_RATIO, (generated, by_hand)


def test_meta_measurement_equals_a_cpu_run(tmp_path: Path) -> None:
    """The bytes counted on ``meta`` are the bytes a real CPU forward holds (to within
    the few hundred bytes of per-channel statistics batch norm returns on ``meta``)."""
    model = _load(tmp_path, NETWORKS["dncnn_dagnn"][0])
    x = _input(model, 64, "cpu")
    on_cpu = peak_forward_bytes(lambda: model(x))
    model.to("meta")
    x = x.to("meta")
    on_meta = peak_forward_bytes(lambda: model(x))
    assert abs(on_meta - on_cpu) <= 0.01 * on_cpu, (on_meta, on_cpu)


def _forward_of(source: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(f, ast.FunctionDef) and f.name == "predict" for f in node.body
        ):
            return next(
                f
                for f in node.body
                if isinstance(f, ast.FunctionDef) and f.name == "forward"
            )
    raise AssertionError("no model class with forward and predict")


@pytest.mark.parametrize(
    "example", sorted(p.parent.name for p in EXAMPLES.glob("*/model.py"))
)
def test_generated_forward_drops_every_value_after_its_last_use(example: str) -> None:
    """In every checked-in example: each local but the returned ones is either the
    reused ``x`` (overwritten by the next line) or deleted right after its last read,
    and no line is a bare ``x = x``."""
    forward = _forward_of((EXAMPLES / example / "model.py").read_text())
    params = {a.arg for a in forward.args.args}
    returned = {
        n.id
        for stmt in forward.body
        if isinstance(stmt, ast.Return)
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name)
    }
    assigned: set[str] = set()
    last_read: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for index, stmt in enumerate(forward.body):
        if isinstance(stmt, ast.Delete):
            deleted.update(
                {t.id: index for t in stmt.targets if isinstance(t, ast.Name)}
            )
            continue
        if isinstance(stmt, ast.Assign):
            assert not (
                isinstance(stmt.value, ast.Name)
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.value.id == stmt.targets[0].id
            ), ast.unparse(stmt)
            for target in ast.walk(stmt.targets[0]):
                if isinstance(target, ast.Name):
                    assigned.add(target.id)
        for n in ast.walk(stmt.value if isinstance(stmt, ast.Assign) else stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                last_read[n.id] = index
    kept = assigned - params - returned - {"x"}
    for name in kept:
        assert name in last_read, f"{example}: {name} is never read"
        assert deleted.get(name) == last_read[name] + 1, f"{example}: {name} kept alive"
