"""Hostile inputs for tests and the fuzz command: small networks written with the schema
writer, the same networks with one layer field replaced by a value of the wrong kind
(NaN, Inf, text, a cell, empty, huge, ...), and byte-level mutations of any .mat file.

Everything is deterministic: a mutation is named by its parameters or by a seed.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from codegen.testing import dltwriter as w


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


def image_network() -> Any:
    """Conv, batch norm, pooling, FC and a classification head (like tiny_cnn)."""
    rng = np.random.default_rng(1)
    layers = [
        w.image_input(
            "input",
            (8, 8, 2),
            "zscore",
            mean=np.full((1, 1, 2), 0.5),
            std=np.ones((1, 1, 2)),
        ),
        w.conv2d(
            "conv",
            _normal(rng, 3, 3, 2, 4),
            _normal(rng, 1, 1, 4),
            padding=(1, 1, 1, 1),
        ),
        w.batchnorm(
            "bn",
            mean=_normal(rng, 1, 1, 4),
            var=np.ones((1, 1, 4), np.float32),
            offset=_normal(rng, 1, 1, 4),
            scale=np.ones((1, 1, 4), np.float32),
        ),
        w.relu("relu"),
        w.max_pool2d("pool", (2, 2), stride=(2, 2)),
        w.avg_pool2d("avg", (3, 3), stride=(1, 1), padding=(1, 1, 1, 1)),
        w.leaky_relu("leaky", 0.1),
        w.fully_connected("fc", _normal(rng, 4, 4, 4, 3), _normal(rng, 3, 1)),
        w.softmax("softmax"),
        w.classification_output("classes", ["a", "b", "c"]),
    ]
    return w.series_network(layers)


def sequence_network() -> Any:
    """Sequence input, LSTM, dropout, FC and a regression head."""
    rng = np.random.default_rng(2)
    layers = [
        w.sequence_input("seq", 3),
        w.lstm(
            "lstm",
            _normal(rng, 16, 3),
            _normal(rng, 16, 4),
            _normal(rng, 16, 1),
            output_mode="last",
        ),
        w.dropout("drop", 0.2),
        w.fully_connected("fc", _normal(rng, 2, 4), _normal(rng, 2, 1)),
        w.regression_output("out"),
    ]
    return w.series_network(layers)


def dag_network() -> Any:
    """Two branches added and concatenated, with a scaling layer and a feature input."""
    rng = np.random.default_rng(3)
    layers = [
        w.feature_input("in", 4, "zscore", mean=np.ones((4, 1)), std=np.ones((4, 1))),
        w.fully_connected("a", _normal(rng, 4, 4), _normal(rng, 4, 1)),
        w.fully_connected("b", _normal(rng, 4, 4), _normal(rng, 4, 1)),
        w.addition("add", 2),
        w.concatenation("cat", 1, 2),
        w.scaling_layer("scale", scale=np.full((8, 1), 2.0), bias=0.5),
        w.elu("elu", 1.0),
        w.regression_output("out"),
    ]
    edges = [
        ("in", "a"),
        ("in", "b"),
        ("a", "add/in1"),
        ("b", "add/in2"),
        ("add", "cat/in1"),
        ("a", "cat/in2"),
        ("cat", "scale"),
        ("scale", "elu"),
        ("elu", "out"),
    ]
    return w.dag_network(layers, edges)


NETWORKS: dict[str, Callable[[], Any]] = {
    "image": image_network,
    "sequence": sequence_network,
    "dag": dag_network,
}

# Wrong values a field may hold in a damaged or crafted file.
BAD_VALUES: dict[str, Callable[[], Any]] = {
    "nan": lambda: np.array([[np.nan]]),
    "inf": lambda: np.array([[np.inf]]),
    "-inf": lambda: np.array([[-np.inf]]),
    "negative": lambda: np.array([[-3.0]]),
    "fraction": lambda: np.array([[2.5]]),
    "huge": lambda: np.array([[1e300]]),
    "huge-int": lambda: np.array([[2**62]], dtype=np.int64),
    "text": lambda: w.char("same'); import os #"),
    "cell": lambda: w.cell([w.double([1, 2])]),
    "struct": lambda: w.struct({"a": w.double(1)}),
    "empty": lambda: np.zeros((0, 0)),
    "logical": lambda: w.logical(True),
    "vector": lambda: w.double([1, 2, 3, 4, 5, 6, 7]),
    "complex": lambda: np.array([[1 + 2j]]),
}


def layers_of(network: Any) -> list[Any]:
    return list(network.properties["any"][0, 0]["Layers"].ravel(order="F"))


def _field_names(layer: Any) -> list[tuple[str, str]]:
    """(where, field): fields of the ``any`` struct, then the plain properties."""
    names = []
    record = layer.properties.get("any")
    if isinstance(record, np.ndarray) and record.dtype.names:
        names += [("any", n) for n in record.dtype.names]
    names += [("prop", k) for k in layer.properties if k != "any"]
    return names


def _replace(layer: Any, where: str, field: str, value: Any) -> None:
    if where == "any":
        w.with_fields(layer, **{field: value})
    else:
        layer.properties[field] = value


@dataclass(frozen=True)
class FieldSwap:
    network: str
    layer: int
    where: str
    field: str
    kind: str

    def __str__(self) -> str:
        return f"{self.network} layer {self.layer} {self.field} = {self.kind}"

    def build(self) -> Any:
        network = NETWORKS[self.network]()
        _replace(
            layers_of(network)[self.layer],
            self.where,
            self.field,
            BAD_VALUES[self.kind](),
        )
        return network


def field_swaps(
    networks: list[str] | None = None, kinds: list[str] | None = None
) -> Iterator[FieldSwap]:
    """Every (layer, field, bad value) of the named networks, in a fixed order."""
    for name in networks or list(NETWORKS):
        for index, layer in enumerate(layers_of(NETWORKS[name]())):
            for where, field in _field_names(layer):
                if field in ("Name",):
                    continue
                for kind in kinds or list(BAD_VALUES):
                    yield FieldSwap(name, index, where, field, kind)


# Byte-level mutations of a whole file.
BYTE_MUTATIONS = ("truncate", "bitflip", "zero-block", "size-bomb", "random-block")


def mutate_bytes(data: bytes, kind: str, seed: int) -> bytes:
    """``data`` damaged by ``kind``, deterministically from ``seed``."""
    rng = random.Random(f"{kind}:{seed}")
    buf = bytearray(data)
    body = 128 if len(buf) > 256 else 0  # keep the 128-byte MAT header most of the time
    if kind == "truncate":
        return bytes(buf[: rng.randrange(body, len(buf))])
    if kind == "bitflip":
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(body, len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind in ("zero-block", "random-block"):
        start = rng.randrange(body, len(buf))
        size = min(rng.choice([4, 8, 64, 512]), len(buf) - start)
        fill = bytes(size) if kind == "zero-block" else rng.randbytes(size)
        buf[start : start + size] = fill
        return bytes(buf)
    if kind == "size-bomb":
        # a 4-byte little-endian length or dimension somewhere set to a huge value
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(body, max(body + 1, len(buf) - 4)) & ~3
            buf[pos : pos + 4] = rng.choice(
                [0x7FFFFFFF, 0xFFFFFFF0, 0x40000000, 0x10000000]
            ).to_bytes(4, "little")
        return bytes(buf)
    raise ValueError(f"unknown mutation {kind!r}")


# Hand-built Level-5 files (uncompressed, little-endian) for bounds tests.


def _element(kind: int, data: bytes) -> bytes:
    pad = (-len(data)) % 8
    return struct.pack("<II", kind, len(data)) + data + bytes(pad)


def _matrix(cls: int, dims: tuple[int, ...], name: bytes, body: bytes) -> bytes:
    flags = _element(6, struct.pack("<II", cls, 0))
    shape = _element(5, struct.pack("<" + "i" * len(dims), *dims))
    return _element(14, flags + shape + _element(1, name) + body)


def level5_file(*elements: bytes) -> bytes:
    header = b"MATLAB 5.0 MAT-file, written by mat2torch tests".ljust(116, b" ")
    return header + bytes(8) + struct.pack("<H", 0x0100) + b"IM" + b"".join(elements)


def nested_cells(depth: int) -> bytes:
    """A variable ``c``: a 1×1 cell in a 1×1 cell ... ``depth`` levels, a double inside."""
    inner = _matrix(6, (1, 1), b"", _element(9, struct.pack("<d", 1.0)))
    for _ in range(depth - 1):
        inner = _matrix(1, (1, 1), b"", inner)
    return level5_file(_matrix(1, (1, 1), b"c", inner))


def declared_array(dims: tuple[int, ...], cls: int = 6) -> bytes:
    """A variable ``x`` that declares ``dims`` but stores 8 bytes of data."""
    return level5_file(_matrix(cls, dims, b"x", _element(9, struct.pack("<d", 1.0))))


def compressed_bomb(inflated: int) -> bytes:
    """A compressed element that inflates to ``inflated`` zero bytes."""
    packed = zlib.compress(bytes(inflated), 9)
    return level5_file(struct.pack("<II", 15, len(packed)) + packed)


def nested_in_subsystem(depth: int) -> bytes:
    """A file whose subsystem data (where MATLAB keeps objects' contents) nests cells
    ``depth`` deep, next to an ordinary variable ``x``."""
    inner = _matrix(6, (1, 1), b"", _element(9, struct.pack("<d", 1.0)))
    for _ in range(depth):
        inner = _matrix(1, (1, 1), b"", inner)
    stream = struct.pack("<H", 0x0100) + b"IM" + bytes(4) + inner
    blob = _matrix(9, (1, len(stream)), b"", _element(2, stream))  # a uint8 array
    header = b"MATLAB 5.0 MAT-file, written by mat2torch tests".ljust(116, b" ")
    header += struct.pack("<QH", 128, 0x0100) + b"IM"
    return header + blob + _matrix(6, (1, 1), b"x", _element(9, struct.pack("<d", 2.0)))
