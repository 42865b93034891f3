"""Misuse of a generated model raises one clear ValueError from the top of forward,
not an error from deep inside PyTorch, in eager mode and under torch.jit.script alike.

Runs the checked-in generated examples (their default initialisation: the checks come
before any weight is used).
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO
from tests.test_examples_with_torch_tools import _load

EXAMPLES = REPO / "generated_examples"


def _both(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    return [("eager", model), ("script", torch.jit.script(model))]


def _raises(model: torch.nn.Module, message: str, *args: object) -> None:
    """ValueError in eager mode; TorchScript re-raises it as torch.jit.Error."""
    errors = (ValueError, torch.jit.Error)
    with pytest.raises(errors, match=message), torch.no_grad():  # type: ignore[arg-type]
        model(*args)


def test_sequence_longer_than_the_position_embedding() -> None:
    _, model = _load(EXAMPLES / "tsx_transformer_demo")
    for _, m in _both(model):
        _raises(
            m,
            r"65 time steps, more than the 64 positions pos_emb embeds",
            torch.zeros(1, 65, 3),
        )
    with torch.no_grad():
        assert model(torch.zeros(1, 64, 3)).shape == (1, 3)


def test_lengths_of_the_wrong_type_count_or_range() -> None:
    _, model = _load(EXAMPLES / "faultdet_TrainedModel")
    x = torch.zeros(2, 6, 10)
    _raises(model, r"pass torch\.tensor\(lengths\)", x, [6, 3])
    for _, m in _both(model):
        _raises(
            m,
            r"expected a tensor \(2,\), one per sequence, got \[3\]",
            x,
            torch.tensor([6, 3, 2]),
        )
        _raises(m, r"each must lie in 1\.\.6", x, torch.tensor([7, 3]))
        _raises(m, r"each must lie in 1\.\.6", x, torch.tensor([0, 3]))
    with torch.no_grad():
        assert model(x, torch.tensor([6, 3])).shape == (2, 8)


def test_input_of_the_wrong_rank_or_channel_count() -> None:
    _, model = _load(EXAMPLES / "ccn_net")
    for _, m in _both(model):
        _raises(
            m,
            r"imageinput: expected a tensor \(N, 3, H, W\), got \[2, 1, 150, 150\]",
            torch.zeros(2, 1, 150, 150),
        )
        _raises(m, r"got \[3, 150, 150\]", torch.zeros(3, 150, 150))
    _, model = _load(EXAMPLES / "faultdet_TrainedModel")
    _raises(
        model,
        r"sequenceinput: expected a tensor \(N, T, 10\), got \[2, 6, 9\]",
        torch.zeros(2, 6, 9),
    )
