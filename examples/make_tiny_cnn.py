"""Write examples/tiny_cnn.mat: the project's own small example network.

A 16×16 grayscale shape classifier in the exact schema MATLAB's
``save('tiny_cnn.mat','net')`` produces for a trained SeriesNetwork, with deterministic
weights from a fixed seed. It exercises what real networks do: z-score input
normalization, 'same' padding with an even kernel (stored [0 1 0 1]), batch
normalization, strided max pooling, average pooling with padding, a fully connected
layer on a 4-D activation (MATLAB flatten order) and class names.

    python examples/make_tiny_cnn.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codegen.testing import dltwriter as w

OUT = Path(__file__).resolve().with_name("tiny_cnn.mat")


def build() -> object:
    rng = np.random.default_rng(20261126)

    def normal(*shape: int, scale: float = 0.3) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    layers = [
        w.image_input(
            "input",
            (16, 16, 1),
            "zscore",
            mean=np.full((1, 1, 1), 0.45),
            std=np.full((1, 1, 1), 0.25),
        ),
        w.conv2d(
            "conv1",
            normal(3, 3, 1, 8),
            normal(1, 1, 8, scale=0.1),
            padding=(1, 1, 1, 1),
        ),
        w.batchnorm(
            "bn1",
            mean=normal(1, 1, 8, scale=0.1),
            var=(0.5 + rng.random((1, 1, 8))).astype(np.float32),
            offset=normal(1, 1, 8, scale=0.1),
            scale=(1 + normal(1, 1, 8, scale=0.1)).astype(np.float32),
        ),
        w.relu("relu1"),
        w.max_pool2d("pool1", (2, 2), stride=(2, 2)),
        w.conv2d(
            "conv2",
            normal(2, 2, 8, 12),
            normal(1, 1, 12, scale=0.1),
            padding_mode="same",
            padding=(0, 1, 0, 1),
        ),
        w.leaky_relu("lrelu2", 0.1),
        w.avg_pool2d("pool2", (3, 3), stride=(2, 2), padding=(1, 1, 1, 1)),
        w.fully_connected(
            "fc", normal(4, 4, 12, 3, scale=0.1), normal(3, 1, scale=0.1)
        ),
        w.softmax("softmax"),
        w.classification_output("classoutput", ["circle", "square", "triangle"]),
    ]
    return w.series_network(layers)


def main() -> None:
    w.write_mat(OUT, {"net": build()}, version="v7")
    print(f"wrote {OUT.name}")


if __name__ == "__main__":
    main()
