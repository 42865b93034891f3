"""Reading MatConvNet layer fields: parameter cells, padding vectors and filter shapes.

Not a converter module (the registry skips it): the MatConvNet converters in
``matconvnet.py`` share these readers, which know MatConvNet's storage conventions —
parameters in a ``weights`` cell (or the pre-2015 ``filters``/``biases`` fields),
padding as a scalar, [vertical horizontal] or [top bottom left right], and arrays saved
without their trailing singleton dimensions.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from codegen.layers.common import Pad
from codegen.layers.record import LayerRecord, is_empty
from codegen.readers.h5lazy import H5Array


def weights(layer: LayerRecord, lazy: bool = False) -> list[np.ndarray | None]:
    """The layer's parameter arrays in MatConvNet order ({F, b}, {mult, bias, moments}).

    Reads ``weights`` (a cell), or the old ``filters``/``biases`` fields; an empty entry
    is None. A value that is not a numeric array (e.g. a gpuArray object) is an error.
    ``lazy``: an array still in the file is returned as such (see ``LayerRecord.array``).
    """
    raw = layer.raw("weights", None)
    items: list[Any]
    if isinstance(raw, np.ndarray) and raw.dtype == object:
        items = list(raw.ravel(order="F"))
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    elif (
        raw is not None
        and not is_empty(raw)
        and isinstance(raw, np.ndarray)
        and raw.dtype.kind in "biuf"
    ):
        items = [raw]
    else:
        items = [layer.raw(k, None) for k in ("filters", "biases") if k in layer.fields]
        if "moments" in layer.fields:
            items.append(layer.raw("moments"))
    out: list[np.ndarray | None] = []
    for item in items:
        if item is None or is_empty(item):
            out.append(None)
            continue
        if isinstance(item, H5Array):
            out.append(cast(np.ndarray, item) if lazy else np.asarray(item))
            continue
        if not (isinstance(item, np.ndarray) and item.dtype.kind in "biuf"):
            kind = getattr(item, "classname", type(item).__name__)
            raise layer.error(
                f"stores a parameter as {kind}, not a numeric array; gather the weights to the CPU in MATLAB "
                "(e.g. vl_simplenn_move(net, 'cpu') or net.move('cpu')) and save the network again."
            )
        out.append(np.asarray(item))
    return out


def weight(ws: list[np.ndarray | None], index: int) -> np.ndarray | None:
    """Parameter ``index`` of :func:`weights`, None when the layer stores fewer."""
    return ws[index] if index < len(ws) else None


def filters_and_bias(
    layer: LayerRecord,
) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """A convolution's filters and bias, and whether its module has a bias.

    ``hasBias`` false means none; otherwise a bias exists when stored, and also when the
    layer is untrained (no filters either), so the untrained module keeps its bias.
    """
    ws = weights(layer, lazy=True)
    filters, bias = weight(ws, 0), weight(ws, 1)
    if bias is not None:
        bias = np.asarray(bias)
    has_bias = layer.flag("hasBias", True) and (bias is not None or filters is None)
    return filters, bias, has_bias


def pad4(layer: LayerRecord, key: str = "pad") -> Pad:
    """MatConvNet padding/cropping as (top, bottom, left, right): scalar, [v h] or 1×4."""
    values = layer.ints(key)
    if not values:
        return (0, 0, 0, 0)
    if len(values) == 1:
        return (values[0],) * 4  # type: ignore[return-value]
    if len(values) == 2:
        return (values[0], values[0], values[1], values[1])
    if len(values) == 4:
        return (values[0], values[1], values[2], values[3])
    raise layer.error(
        f"has a '{key}' of {len(values)} values; MatConvNet expects 1 or 4."
    )


def dims(array: np.ndarray, rank: int) -> tuple[int, ...]:
    """MATLAB's shape padded with the trailing singleton dimensions it dropped on save."""
    return tuple(array.shape) + (1,) * (rank - array.ndim)


def filter_shape(
    layer: LayerRecord, filters: np.ndarray | None, bias: np.ndarray | None = None
) -> tuple[int, int, int, int]:
    """The 4-D filter shape: the layer's ``size`` when stored, else the filters' own.

    A convolution's single filter is saved FH×FW×C (MATLAB drops the trailing 1); given
    ``bias``, such a filter array takes its filter count from the bias.
    """
    size = layer.ints("size")
    if size and len(size) == 4:
        shape: tuple[int, ...] = size
    elif filters is None:
        raise layer.error("stores no filters and no filter size.")
    else:
        shape = dims(filters, 4)
        if bias is not None and filters.ndim <= 3:
            shape = (*shape[:3], bias.size)
    fh, fw, a, b = (int(v) for v in shape)
    return fh, fw, a, b
