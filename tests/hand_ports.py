"""Hand-written forwards of corpus networks, built from a converted model's own modules.

They are what a careful engineer porting the network by hand would write — ``x =
layer(x)``, skip connections kept only until they are concatenated — and the yardstick
for the memory the generated forward holds (tests/test_forward_memory.py,
scripts/benchmark_forward_memory.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# A hand-written forward: the converted model (for its modules) and its input.
Port = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def chain(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Every child module in order, ``x = layer(x)``: a plain CNN such as DnCNN."""
    for layer in model.children():
        x = layer(x)
    return x


def residual_chain(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """DnCNN as a DagNN: the chain of layers, then the sum with the input."""
    return chain(model, x) + x


def unet(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The three-stage U-Net of resunet_net.mat (MATLAB's unetLayers naming, including its
    'Dcoder' spelling)."""

    def run(x: torch.Tensor, *names: str) -> torch.Tensor:
        for name in names:
            x = getattr(model, name)(x)
        return x

    x = image - model.imageinput_mean
    skips = []
    for stage in (1, 2, 3):
        prefix = f"Encoder_Stage_{stage}_"
        x = run(x, *(prefix + p for p in ("Conv_1", "ReLU_1", "Conv_2", "ReLU_2")))
        skips.append(x)
        if stage == 3:
            x = model.Encoder_Stage_3_DropOut_1(x)
        x = run(x, prefix + "MaxPool_1")
    x = run(x, "Bridge_Conv_1", "Bridge_ReLU_1", "Bridge_Conv_2", "Bridge_ReLU_2")
    x = model.Bridge_DropOut_1(x)
    for stage in (1, 2, 3):
        x = run(x, f"Decoder_Stage_{stage}_UpConv", f"Decoder_Stage_{stage}_UpReLU")
        x = torch.cat([x, skips.pop()], dim=1)
        x = run(
            x,
            f"Dcoder_Stage_{stage}_Conv_1",
            f"Decoder_Stage_{stage}_ReLU_1",
            f"Decoder_Stage_{stage}_Conv_2",
            f"Decoder_Stage_{stage}_ReLU_2",
        )
    return model.Final_ConvolutionLayer(x)
