"""Denoise the Set12 images with DnCNN (σ = 25), converted from MatConvNet by mat2torch.

    python examples/denoise_set12.py [DNCNN_MAT] [SET12_DIR] [--sigma 25] [--seed 0]

Defaults: ../shared/corpus/matconvnet/dncnn_sigma25.mat and .../set12, relative to the
repository root. The script converts the .mat file into a temporary directory (model.py +
model.safetensors), imports the generated module, adds Gaussian noise of standard
deviation σ/255 to each image in [0, 1] (NumPy generator with a fixed seed), denoises it
and prints the PSNR before and after, per image and on average.

DnCNN is *residual*: the network estimates the noise, and the clean image is
``noisy − net(noisy)``. The converted model computes exactly what the .mat file describes
(the noise estimate); the subtraction is done here, as in DnCNN's own Demo_test_DnCNN.m.
The input goes through the generated ``preprocess()`` (MatConvNet's meta.normalization,
which vl_simplenn leaves to the caller), as for any converted MatConvNet network.
As in that demo, PSNR is measured on images quantized to 8 bits (MATLAB's im2uint8).

Needs only NumPy and PyTorch: the (8-bit grayscale) PNG files are decoded with zlib.
"""

from __future__ import annotations

import argparse
import importlib.util
import struct
import sys
import tempfile
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "matconvnet"


# --------------------------------------------------------------------------- PNG reading


def read_png_gray(path: str | Path) -> np.ndarray:
    """An 8-bit grayscale, non-interlaced PNG as an (H, W) uint8 array."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, header, idat = 8, None, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: no IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    if (depth, color, interlace) != (8, 0, 0):
        raise ValueError(
            f"{path}: only 8-bit grayscale non-interlaced PNGs are supported (got depth {depth}, color type {color}, interlace {interlace})"
        )
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(
        height, width + 1
    )
    image = np.zeros((height, width), dtype=np.uint8)
    prev = np.zeros(width, dtype=np.int64)
    for y in range(height):
        kind, row = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 0:  # None
            out = row
        elif kind == 1:  # Sub: out[x] = row[x] + out[x-1]
            out = np.cumsum(row) % 256
        elif kind == 2:  # Up
            out = (row + prev) % 256
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            out = np.zeros(width, dtype=np.int64)
            left = 0
            for x in range(width):
                up = int(prev[x])
                if kind == 3:
                    pred = (left + up) // 2
                else:
                    upleft = int(prev[x - 1]) if x else 0
                    p = left + up - upleft
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                    pred = (
                        left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                    )
                left = (int(row[x]) + pred) % 256
                out[x] = left
        else:
            raise ValueError(f"{path}: unknown PNG filter type {kind}")
        image[y] = out
        prev = out
    return image


# --------------------------------------------------------------------------- model


def load_converted(mat_path: Path, out_dir: Path) -> tuple[ModuleType, torch.nn.Module]:
    """Convert with mat2torch and import the generated model.py (not this project)."""
    sys.path.insert(0, str(REPO))
    try:
        from codegen.api import convert
    finally:
        sys.path.remove(str(REPO))
    convert(mat_path, out_dir, force=True)
    name = f"dncnn_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, out_dir / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, module.load_model()


def im2uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's im2uint8 for a double image in [0, 1]: clip, scale, round."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB between two uint8 images (peak 255)."""
    mse = np.mean((reference.astype(np.float64) - image.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


@dataclass
class Result:
    name: str
    shape: tuple[int, int]
    noisy: float
    denoised: float


def denoise_set(
    mat_path: Path,
    image_dir: Path,
    sigma: float = 25.0,
    seed: int = 0,
    limit: int | None = None,
) -> list[Result]:
    images = sorted(image_dir.glob("*.png"))[:limit]
    if not images:
        raise SystemExit(f"no .png images in {image_dir}")
    rng = np.random.default_rng(seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        module, model = load_converted(mat_path, Path(tmp))
        for path in images:
            clean = read_png_gray(path).astype(np.float64) / 255.0
            noisy = clean + rng.standard_normal(clean.shape) * (sigma / 255.0)
            with torch.no_grad():
                x = module.from_matlab(noisy.astype(np.float32))  # H×W → (1, 1, H, W)
                # MatConvNet's preprocessing (none is stored for DnCNN: the image stays in [0, 1])
                noise = (
                    model.predict(model.preprocess(x))[0, 0].numpy().astype(np.float64)
                )
            denoised = noisy - noise  # residual learning: the net predicts the noise
            label = im2uint8(clean)
            results.append(
                Result(
                    path.name,
                    clean.shape,
                    psnr(label, im2uint8(noisy)),
                    psnr(label, im2uint8(denoised)),
                )
            )
    return results


def format_table(results: list[Result], sigma: float) -> str:
    lines = [f"DnCNN (MatConvNet → PyTorch), Gaussian noise sigma = {sigma:g}", ""]
    lines.append(
        f"{'image':<10} {'size':>9} {'noisy PSNR':>11} {'denoised PSNR':>14} {'gain':>7}"
    )
    for r in results:
        size = f"{r.shape[0]}x{r.shape[1]}"
        lines.append(
            f"{r.name:<10} {size:>9} {r.noisy:>8.2f} dB {r.denoised:>11.2f} dB {r.denoised - r.noisy:>+7.2f}"
        )
    noisy = float(np.mean([r.noisy for r in results]))
    denoised = float(np.mean([r.denoised for r in results]))
    lines.append(
        f"{'mean':<10} {'':>9} {noisy:>8.2f} dB {denoised:>11.2f} dB {denoised - noisy:>+7.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "model",
        nargs="?",
        type=Path,
        default=CORPUS / "dncnn_sigma25.mat",
        help="DnCNN MatConvNet .mat file",
    )
    parser.add_argument(
        "images",
        nargs="?",
        type=Path,
        default=CORPUS / "set12",
        help="folder of grayscale PNG images",
    )
    parser.add_argument(
        "--sigma",
        type=float,
        default=25.0,
        help="noise standard deviation on the 0-255 scale",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the noise generator"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N images"
    )
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    results = denoise_set(args.model, args.images, args.sigma, args.seed, args.limit)
    print(format_table(results, args.sigma))
    return 0


if __name__ == "__main__":
    sys.exit(main())
