"""A minimal ONNX reader and NumPy evaluator for the operators in MATLAB's ONNX export of
ccn_net (the corpus oracle), for machines without the onnx/onnxruntime packages.

It decodes the protobuf wire format directly (ModelProto → GraphProto → nodes,
initializers) and runs each node with the operator's ONNX definition. Only what that
export uses is implemented; anything else raises, so it can never answer silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_ints(wire: int, value: Any) -> list[int]:
    if wire == 0:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v - (1 << 64) if v >= 1 << 63 else v)
    return out


_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 11: np.float64}


def _tensor(buf: bytes) -> tuple[str, np.ndarray]:
    dims: list[int] = []
    dtype, name, raw = 1, "", None
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims += _packed_ints(wire, value)
        elif number == 2:
            dtype = value
        elif number == 4:
            floats += (
                list(np.frombuffer(value, "<f4"))
                if wire == 2
                else [np.frombuffer(value, "<f4")[0]]
            )
        elif number == 7:
            ints += _packed_ints(wire, value)
        elif number == 8:
            name = value.decode()
        elif number == 9:
            raw = value
    np_type = _DTYPES[dtype]
    if raw is not None:
        array = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<"))
    elif floats:
        array = np.asarray(floats, dtype=np_type)
    else:
        array = np.asarray(ints, dtype=np_type)
    return name, array.reshape(dims).astype(np_type)


@dataclass
class OnnxNode:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


def _attribute(buf: bytes) -> tuple[str, Any]:
    name, value = "", None
    ints: list[int] = []
    floats: list[float] = []
    for number, wire, v in _fields(buf):
        if number == 1:
            name = v.decode()
        elif number == 2:
            value = float(np.frombuffer(v, "<f4")[0])
        elif number == 3:
            value = v - (1 << 64) if v >= 1 << 63 else v
        elif number == 4:
            value = v.decode()
        elif number == 5:
            value = _tensor(v)[1]
        elif number == 7:
            floats += (
                list(np.frombuffer(v, "<f4"))
                if wire == 2
                else [float(np.frombuffer(v, "<f4")[0])]
            )
        elif number == 8:
            ints += _packed_ints(wire, v)
    if ints:
        value = ints
    elif floats:
        value = floats
    return name, value


def _node(buf: bytes) -> OnnxNode:
    node = OnnxNode("", [], [])
    for number, _, value in _fields(buf):
        if number == 1:
            node.inputs.append(value.decode())
        elif number == 2:
            node.outputs.append(value.decode())
        elif number == 4:
            node.op = value.decode()
        elif number == 5:
            key, attr = _attribute(value)
            node.attrs[key] = attr
    return node


def _value_info_name(buf: bytes) -> str:
    for number, _, value in _fields(buf):
        if number == 1:
            return str(value.decode())
    return ""


@dataclass
class OnnxGraph:
    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]

    @property
    def data_input(self) -> str:
        return next(n for n in self.inputs if n not in self.initializers)


def load(path: Path) -> OnnxGraph:
    data = path.read_bytes()
    graph_buf = next(v for n, _, v in _fields(data) if n == 7)
    nodes, inits, inputs, outputs = [], {}, [], []
    for number, _, value in _fields(graph_buf):
        if number == 1:
            nodes.append(_node(value))
        elif number == 5:
            name, array = _tensor(value)
            inits[name] = array
        elif number == 11:
            inputs.append(_value_info_name(value))
        elif number == 12:
            outputs.append(_value_info_name(value))
    return OnnxGraph(nodes, inits, inputs, outputs)


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, a: dict) -> np.ndarray:
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("grouped or dilated Conv")
    # ONNX pads are [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].
    top, left, bottom, right = (a.get("pads") or [0, 0, 0, 0])[:4]
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    sh, sw = a.get("strides", [1, 1])
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
    return y if b is None else y + b[None, :, None, None]


def _max_pool(x: np.ndarray, a: dict) -> np.ndarray:
    top, left, bottom, right = (a.get("pads") or [0, 0, 0, 0])[:4]
    x = np.pad(
        x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf
    )
    sh, sw = a.get("strides", [1, 1])
    win = sliding_window_view(x, a["kernel_shape"], axis=(2, 3))[:, :, ::sh, ::sw]
    return win.max(axis=(4, 5))


def run(graph: OnnxGraph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor the graph computes from data input ``x`` (N, C, H, W), in float64."""
    env: dict[str, np.ndarray] = {
        k: v.astype(np.float64) if v.dtype.kind == "f" else v
        for k, v in graph.initializers.items()
    }
    env[graph.data_input] = np.asarray(x, dtype=np.float64)
    for node in graph.nodes:
        ins = [env[i] if i else None for i in node.inputs]
        a = node.attrs
        if node.op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif node.op == "BatchNormalization":
            x0, scale, bias, mean, var = ins
            shape = (1, -1) + (1,) * (x0.ndim - 2)
            y = (x0 - mean.reshape(shape)) / np.sqrt(
                var.reshape(shape) + a.get("epsilon", 1e-5)
            ) * scale.reshape(shape) + bias.reshape(shape)
        elif node.op == "Relu":
            y = np.maximum(ins[0], 0)
        elif node.op == "MaxPool":
            y = _max_pool(ins[0], a)
        elif node.op in ("Sub", "Add", "Mul", "Div"):
            fn = {"Sub": np.subtract, "Add": np.add, "Mul": np.multiply}.get(
                node.op, np.divide
            )
            y = fn(ins[0], ins[1])
        elif node.op == "Flatten":
            axis = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif node.op == "Reshape":
            y = ins[0].reshape([int(v) for v in ins[1]])
        elif node.op == "Transpose":
            y = ins[0].transpose(a["perm"])
        elif node.op == "MatMul":
            y = ins[0] @ ins[1]
        elif node.op == "Gemm":
            A = ins[0].T if a.get("transA") else ins[0]
            B = ins[1].T if a.get("transB") else ins[1]
            y = a.get("alpha", 1.0) * A @ B
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif node.op == "Softmax":
            axis = a.get("axis", 1)
            flat = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
            e = np.exp(flat - flat.max(axis=1, keepdims=True))
            y = (e / e.sum(axis=1, keepdims=True)).reshape(ins[0].shape)
        else:
            raise NotImplementedError(f"ONNX operator {node.op}")
        env[node.outputs[0]] = y
    return env
