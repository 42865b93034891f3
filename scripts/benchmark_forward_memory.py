"""Peak forward memory of converted networks against hand-written ports of the same modules.

    python scripts/benchmark_forward_memory.py [--size 512] [--device meta|cpu]

Converts the corpus DnCNN networks and the resunet U-Net (../shared/corpus), runs one
forward on a size×size image without gradients, and prints the peak bytes of live tensors
for the generated forward and for a hand-written ``x = layer(x)`` port
(tests/hand_ports.py), and their ratio. ``meta`` (the default) propagates shapes without
computing and counts the same bytes as ``cpu``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from codegen import api  # noqa: E402
from codegen.testing.memory import peak_forward_bytes  # noqa: E402
from tests import hand_ports  # noqa: E402
from tests.conftest import CORPUS, import_generated  # noqa: E402

NETWORKS = [
    ("matconvnet/dncnn_sigma25.mat", hand_ports.chain),
    ("matconvnet/dncnn_dagnn_epoch50.mat", hand_ports.residual_chain),
    ("dltoolbox/resunet_net.mat", hand_ports.unet),
]


def measure(
    model: nn.Module, port: hand_ports.Port, x: torch.Tensor
) -> tuple[int, int]:
    """Peak bytes of the generated forward and of the hand-written port on ``x``."""
    return (
        peak_forward_bytes(lambda: model(x)),
        peak_forward_bytes(lambda: port(model, x)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--device", choices=("meta", "cpu"), default="meta")
    args = parser.parse_args(argv)
    print(f"{'network':<28} {'generated':>12} {'by hand':>12} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for relative, port in NETWORKS:
            out = Path(tmp) / Path(relative).stem
            api.convert(CORPUS / relative, out, force=True)
            model = import_generated(out).load_model().to(args.device)
            first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            x = torch.rand(1, first.in_channels, args.size, args.size)
            x = x.to(args.device)
            generated, by_hand = measure(model, port, x)
            print(
                f"{Path(relative).name:<28} {generated / 2**20:>9.1f} MiB"
                f" {by_hand / 2**20:>8.1f} MiB {generated / by_hand:>7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
