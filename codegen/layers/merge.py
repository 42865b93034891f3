"""Merge layers: addition, multiplication, depth and plain concatenation.

Their inputs arrive in port order (``in1``, ``in2``, ...), which the importer reads from
the Connections table. The forward line is a plain expression (``a + b``,
``torch.cat([a, b], dim=1)``), so these layers have no module in ``__init__``.

Concatenation ``Dim`` counts MATLAB's dimensions of the data as MATLAB lays it out, and
maps to PyTorch's dims as follows (see :data:`CONCAT_DIMS`):

* images, MATLAB H×W×C×N → PyTorch N×C×H×W: Dim 1 (H) → 2, Dim 2 (W) → 3, Dim 3 (C) → 1;
* features, MATLAB C×N → PyTorch N×C: Dim 1 (C) → 1. The output of a fully connected
  layer in an image network is 1×1×C×N to MATLAB, so Dim 3 means channels there too;
* sequences, MATLAB C×N×T → PyTorch N×T×C: Dim 1 (C) → 2;
* volumes, MATLAB H×W×D×C×N → PyTorch N×C×D×H×W: Dim 1 (H) → 3, Dim 2 (W) → 4,
  Dim 3 (D) → 2, Dim 4 (C) → 1.

MATLAB concatenates over channel and spatial dimensions only (its documentation, before
R2026a); any other Dim (batch, time) is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

from codegen.ir import FEATURE, IMAGE, SEQUENCE, VOLUME, Node, TensorInfo
from codegen.layers.common import layer_node
from codegen.layers.record import LayerRecord
from codegen.layers.registry import register

# (layout, MATLAB Dim) -> (PyTorch dim, index into TensorInfo.shape)
CONCAT_DIMS: dict[tuple[str, int], tuple[int, int]] = {
    (IMAGE, 1): (2, 1),
    (IMAGE, 2): (3, 2),
    (IMAGE, 3): (1, 0),
    (FEATURE, 1): (1, 0),
    (FEATURE, 3): (1, 0),
    (SEQUENCE, 1): (2, 0),
    (VOLUME, 1): (3, 2),
    (VOLUME, 2): (4, 3),
    (VOLUME, 3): (2, 1),
    (VOLUME, 4): (1, 0),
}


def _check_count(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> None:
    expected = layer.num("NumInputs")
    if not inputs:
        raise layer.error("has no connected inputs.")
    if expected is not None and int(expected) != len(inputs):
        raise layer.error(
            f"declares {int(expected)} inputs but {len(inputs)} are connected; connect every input (in1, in2, ...) in MATLAB."
        )


def _common_layout(
    layer: LayerRecord, inputs: Sequence[TensorInfo]
) -> tuple[str, list[bool]]:
    """The layout of the merged tensor, and which inputs must be flattened to reach it.

    MATLAB sees a fully connected layer's output in an image network as 1×1×C; mixed with
    a 1×1×C image (e.g. after global pooling) the image is flattened to N×C, because
    PyTorch would otherwise broadcast (N, C, 1, 1) against (N, C) into nonsense.
    """
    layouts = {i.layout for i in inputs}
    if len(layouts) == 1:
        return inputs[0].layout, [False] * len(inputs)
    if layouts == {IMAGE, FEATURE}:
        flatten = []
        for info in inputs:
            if info.layout == IMAGE:
                if tuple(info.shape[1:]) != (1, 1):
                    raise layer.error(
                        f"combines an image of {info.describe()} with feature vectors; only 1×1 images can be merged with features."
                    )
                flatten.append(True)
            else:
                flatten.append(False)
        return FEATURE, flatten
    described = ", ".join(i.describe() for i in inputs)
    raise layer.error(
        f"receives inputs of different kinds ({described}), which cannot be merged."
    )


def _flattened(info: TensorInfo, flatten: bool) -> TensorInfo:
    return TensorInfo(FEATURE, (info.shape[0],)) if flatten else info


def _same_shape(
    layer: LayerRecord, inputs: Sequence[TensorInfo]
) -> tuple[int | None, ...]:
    """Elementwise layers need equal sizes; unknown sizes (None) match anything."""
    shape: list[int | None] = list(inputs[0].shape)
    for info in inputs[1:]:
        if len(info.shape) != len(shape):
            raise layer.error(
                f"receives inputs of different ranks ({inputs[0].describe()} and {info.describe()})."
            )
        for k, size in enumerate(info.shape):
            if size is None:
                continue
            if shape[k] is None:
                shape[k] = size
            elif shape[k] != size:
                raise layer.error(
                    f"receives inputs of different sizes ({inputs[0].describe()} and {info.describe()}); MATLAB requires equal sizes."
                )
    return tuple(shape)


def _elementwise(layer: LayerRecord, inputs: Sequence[TensorInfo], op: str) -> Node:
    _check_count(layer, inputs)
    layout, flatten = _common_layout(layer, inputs)
    infos = [_flattened(i, f) for i, f in zip(inputs, flatten, strict=True)]
    shape = _same_shape(layer, infos)
    return layer_node(layer, op, TensorInfo(layout, shape), {"flatten": flatten})


@register("nnet.cnn.layer.AdditionLayer", ops=("add",), versions=(1,))
def addition(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _elementwise(layer, inputs, "add")


@register("nnet.cnn.layer.MultiplicationLayer", ops=("mul",), versions=(1,))
def multiplication(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    return _elementwise(layer, inputs, "mul")


def _concat(
    layer: LayerRecord,
    inputs: Sequence[TensorInfo],
    matlab_dim: int,
    explicit: bool = False,
) -> Node:
    _check_count(layer, inputs)
    layout, flatten = _common_layout(layer, inputs)
    infos = [_flattened(i, f) for i, f in zip(inputs, flatten, strict=True)]
    mapping = CONCAT_DIMS.get((layout, matlab_dim))
    if mapping is None:
        allowed = ", ".join(str(d) for (lay, d) in CONCAT_DIMS if lay == layout)
        raise layer.error(
            f"concatenates along MATLAB dimension {matlab_dim} of {infos[0].describe()}; mat2torch supports Dim {allowed} for this kind of data (channel and spatial dimensions, as MATLAB does)."
        )
    torch_dim, axis = mapping
    shape: list[int | None] = []
    for k in range(len(infos[0].shape)):
        sizes = [i.shape[k] if k < len(i.shape) else None for i in infos]
        if k == axis:
            shape.append(
                None
                if any(s is None for s in sizes)
                else sum(s for s in sizes if s is not None)
            )
            continue
        known = {s for s in sizes if s is not None}
        if len(known) > 1:
            described = ", ".join(i.describe() for i in infos)
            raise layer.error(
                f"receives inputs whose sizes differ outside the concatenation dimension ({described})."
            )
        shape.append(known.pop() if known else None)
    attrs = {
        "dim": torch_dim,
        "matlab_dim": matlab_dim,
        "flatten": flatten,
        "explicit_dim": explicit,
    }
    return layer_node(layer, "concat", TensorInfo(layout, tuple(shape)), attrs)


@register("nnet.cnn.layer.DepthConcatenationLayer", ops=("concat",), versions=(1,))
def depth_concatenation(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    if not inputs:
        raise layer.error("has no connected inputs.")
    channel_dim = {IMAGE: 3, FEATURE: 1, SEQUENCE: 1, VOLUME: 4}
    layout, _ = _common_layout(layer, inputs)
    if layout not in channel_dim:
        raise layer.error(
            f"receives {inputs[0].describe()}; depth concatenation of this layout is not supported yet."
        )
    return _concat(layer, inputs, channel_dim[layout])


@register("nnet.cnn.layer.ConcatenationLayer", ops=("concat",), versions=(1,))
def concatenation(layer: LayerRecord, inputs: Sequence[TensorInfo]) -> Node:
    dim = layer.num("Dim")
    if dim is None:
        raise layer.error("has no Dim.")
    return _concat(layer, inputs, int(dim), explicit=True)
