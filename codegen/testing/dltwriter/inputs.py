"""Input layers (image, sequence, feature, the generic inputLayer) and the
normalization struct they carry.

The three classes share Name, InputSize, Normalization, NormalizationDimension and
SplitComplexInputs; :func:`_input_layer` fills those once and each builder adds its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import Layer, builtin_layer
from codegen.testing.dltwriter.values import (
    Size,
    char,
    double,
    logical,
    matlab_shape,
    struct,
)

# Which statistics each normalization stores (MATLAB_FORMAT.md field names).
_STATISTICS = {
    "zerocenter": ("AverageImage",),
    "zscore": ("Mean", "Std"),
    "rescale-symmetric": ("Min", "Max"),
    "rescale-zero-one": ("Min", "Max"),
}


def _statistic(values: Any, image: bool) -> np.ndarray:
    """Normalization statistics: a 1-D vector is per channel (1×1×C for images, C×1
    otherwise); a float64 array keeps its precision (fuma28 stores a double)."""
    if values is None:
        return np.empty((0, 0), dtype=np.float32)
    array = np.array(
        values,
        dtype=np.float64 if np.asarray(values).dtype == np.float64 else np.float32,
    )
    if array.ndim <= 1:
        array = array.reshape((1, 1, -1) if image else (-1, 1))
    return array.reshape(matlab_shape(array.shape))


def _normalization(
    kind: str, input_size: Size, stats: Mapping[str, Any], image: bool
) -> np.ndarray:
    """``[]`` for 'none', else the struct MATLAB saves (zerocenter seen; the others inferred)."""
    if kind == "none":
        return np.empty((1, 0) if image else (0, 0))
    if kind not in _STATISTICS:
        raise ValueError(
            f"unknown normalization {kind!r}; use 'none' or one of {sorted(_STATISTICS)}"
        )
    fields: dict[str, Any] = {
        "Version": double(2),
        "Type": char(kind),
        "ImageSize": double(input_size),
    }
    for key in _STATISTICS[kind]:
        fields[key] = _statistic(stats[key], image)
    fields["NumTrainingSamples"] = double(0)
    return struct(fields)


def _input_layer(
    cls: str,
    name: str,
    input_size: Size,
    normalization: str,
    statistics: tuple[Any, Any, Any, Any],
    normalization_dimension: str,
    split_complex_inputs: bool,
    version: int | None = None,
    image_stats: bool | None = None,
    **own: np.ndarray,
) -> Layer:
    """The fields every input layer has, plus the class's ``own`` fields. ``statistics``
    is (mean, std, min, max); the mean doubles as zerocenter's AverageImage.
    ``image_stats``: store them as ImageInputLayer does (default: only for that class).
    """
    mean, std, low, high = statistics
    stats = {"AverageImage": mean, "Mean": mean, "Std": std, "Min": low, "Max": high}
    fields = {
        "Name": char(name),
        "InputSize": double(input_size),
        "Normalization": _normalization(
            normalization,
            input_size,
            stats,
            cls == "ImageInputLayer" if image_stats is None else image_stats,
        ),
        "NormalizationDimension": char(normalization_dimension),
        "SplitComplexInputs": logical(split_complex_inputs),
        **own,
    }
    return builtin_layer(cls, fields, version)


def image_input(
    name: str,
    input_size: Sequence[float],
    normalization: str = "zerocenter",
    mean: Any = None,
    std: Any = None,
    min: Any = None,
    max: Any = None,
    *,
    normalization_dimension: str = "auto",
    split_complex_inputs: bool = False,
    version: int | None = None,
) -> Layer:
    """ImageInputLayer (v5 default; v3, v4 for older files). ``mean`` is the AverageImage
    for 'zerocenter' (any of H×W×C, 1×1×C or scalar; ``None`` = untrained, stored 0×0).
    Only 'none' and 'zerocenter' have a real sample; the other normalization structs are
    inferred (MATLAB_FORMAT.md field names: Mean, Std, Min, Max)."""
    return _input_layer(
        "ImageInputLayer",
        name,
        input_size,
        normalization,
        (mean, std, min, max),
        normalization_dimension,
        split_complex_inputs,
        version,
        Augmentations=np.empty((1, 0)),
    )


def sequence_input(
    name: str,
    input_size: Size,
    normalization: str = "none",
    mean: Any = None,
    std: Any = None,
    min: Any = None,
    max: Any = None,
    *,
    normalization_dimension: str = "auto",
    min_length: int = 1,
    split_complex_inputs: bool = False,
    version: int | None = None,
) -> Layer:
    """SequenceInputLayer (v5 default, v3). Only 'none' has a real sample; normalization
    structs reuse the image layout (inferred)."""
    return _input_layer(
        "SequenceInputLayer",
        name,
        input_size,
        normalization,
        (mean, std, min, max),
        normalization_dimension,
        split_complex_inputs,
        version,
        MinLength=double(min_length),
    )


def feature_input(
    name: str,
    input_size: int,
    normalization: str = "none",
    mean: Any = None,
    std: Any = None,
    min: Any = None,
    max: Any = None,
    *,
    normalization_dimension: str = "auto",
    split_complex_inputs: bool = False,
) -> Layer:
    """FeatureInputLayer v2. Only 'none' has a real sample; normalization structs reuse
    the image layout (inferred)."""
    return _input_layer(
        "FeatureInputLayer",
        name,
        input_size,
        normalization,
        (mean, std, min, max),
        normalization_dimension,
        split_complex_inputs,
    )


def input_layer(
    name: str,
    input_size: Sequence[float],
    input_format: str,
    *,
    version: int | None = None,
) -> Layer:
    """InputLayer (``inputLayer(inputSize, inputFormat)``, R2023b+) — schema inferred,
    no real sample: saveobj version 1 with Name, then InputSize and InputFormat as the
    other input layers store theirs (a double row vector, NaN for a variable size; a
    char vector). It has no normalization, so none of their other fields."""
    return builtin_layer(
        "InputLayer",
        {
            "Name": char(name),
            "InputSize": double(input_size),
            "InputFormat": char(input_format),
        },
        version,
    )
