"""Build Deep Learning Toolbox networks in the exact schema MATLAB saves, and write them.

Why this exists: the project may not ship the corpus files, and no real sample covers
many layer classes. Tests and the shipped example network therefore need .mat files
that the reader cannot tell apart from MATLAB's own. Every builder here returns the
object MATLAB would save: built-in ``nnet.cnn.layer.*`` layers keep their ``saveobj``
struct in ``any`` (field names, order, dtypes and shapes copied from the newest schema
version seen in ``shared/corpus/dltoolbox``); layers written as ``nnet.layer.Layer``
subclasses (ELULayer) keep plain properties. Each object also carries the class
defaults MATLAB saves once per class (``Version`` = 1 next to ``any``, ...), because a
reader sees them merged into the properties.

Arguments are MATLAB-style: names, sizes and numpy arrays in MATLAB layout (conv weights
FH×FW×Cin×Cout, FC weights Out×In or H×W×C×Out, biases any shape with the right count).
Weights are stored as single, with MATLAB's dropped trailing singleton dimensions. A
learnable given as ``None`` is stored like an untrained layer's (a 0×0 double).

Builders whose docstring says "schema inferred, no real sample" follow the pattern of
the closest real class and the property names in MATLAB's documentation; treat those
files as plausible, not as ground truth.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from matio import save_to_mat
from matio.subsystem.subsys import MatSubsystem
from matio.utils.matclass import MatlabContainerMap, MatlabOpaque, MatlabOpaqueArray
from matio.utils.matutils import to_writeable

Layer = MatlabOpaque
Size = float | Sequence[float]
_AUTO: Literal["auto"] = "auto"
_NNET = "nnet.cnn.layer."
_INIT = "nnet.internal.cnn.layer.learnable.initializer."


class _DltObject(MatlabOpaque):
    """A MATLAB object plus the defaults MATLAB saves once per class (not per object)."""

    def __init__(self, classname: str, properties: dict[str, Any], class_defaults: Mapping[str, Any]):
        super().__init__(properties=properties, classname=classname)
        self.class_defaults = dict(class_defaults)


# ---------------------------------------------------------------- MATLAB values


def _char(text: str) -> np.ndarray:
    """A char row vector as mat-io decodes it: ``<U`` of shape (1,), or (0,) when empty."""
    return np.array([text]) if text else np.empty((0,), dtype="<U1")


def _double(value: Size | None) -> np.ndarray:
    """A double row vector ((1, 1) for a scalar); ``None`` is MATLAB's ``[]`` (0×0)."""
    if value is None:
        return np.empty((0, 0))
    return np.asarray(value, dtype=np.float64).reshape(1, -1)


def _logical(flag: bool) -> np.ndarray:
    return np.array([[flag]])


def _cell(items: Sequence[Any], shape: tuple[int, int] | None = None) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        out[index] = item
    return out.reshape(shape or (1, len(items)), order="F")


def _struct(fields: Mapping[str, Any]) -> np.ndarray:
    """A 1×1 struct: a structured array of object fields, in the given order."""
    out = np.empty((1, 1), dtype=[(name, object) for name in fields])
    for name, value in fields.items():
        out[name][0, 0] = value
    return out


def _matlab_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """MATLAB drops trailing singleton dimensions beyond the second on save."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def _single(values: Any, shape: Sequence[int] | None = None) -> np.ndarray:
    """A single-precision copy in MATLAB layout; ``shape`` reshapes column-major first."""
    array = np.array(values, dtype=np.float32)
    if shape is not None:
        if array.size != int(np.prod(shape)):
            raise ValueError(
                f"expected {int(np.prod(shape))} values for shape {tuple(shape)}, got {array.size}"
            )
        array = array.reshape(tuple(shape), order="F")
    if array.ndim < 2:
        array = array.reshape(-1, 1)
    return array.reshape(_matlab_shape(array.shape))


def _statistic(values: Any, image: bool) -> np.ndarray:
    """Normalization statistics: a 1-D vector is per channel (1×1×C for images, C×1
    otherwise); a float64 array keeps its precision (fuma28 stores a double)."""
    if values is None:
        return np.empty((0, 0), dtype=np.float32)
    array = np.array(values, dtype=np.float64 if np.asarray(values).dtype == np.float64 else np.float32)
    if array.ndim <= 1:
        array = array.reshape((1, 1, -1) if image else (-1, 1))
    return array.reshape(_matlab_shape(array.shape))


def _padded(shape: Sequence[int], ndim: int) -> tuple[int, ...]:
    return tuple(shape) + (1,) * (ndim - len(shape))


def _scalar_or_empty(value: float | None) -> np.ndarray:
    return _empty() if value is None else _double(value)


def _empty() -> np.ndarray:
    return np.empty((0, 0))


def _categorical(classes: Sequence[str] | None) -> pd.Categorical:
    """Class names as MATLAB's N×1 categorical (0×0 before training)."""
    if classes is None or len(classes) == 0:
        return pd.Categorical.from_codes(np.zeros((0, 0), dtype=np.int8), categories=[])
    codes = np.arange(len(classes)).reshape(-1, 1)
    return pd.Categorical.from_codes(codes, categories=list(classes))


# ---------------------------------------------------------------- learnables


def _initializer(kind: str, *arguments: tuple[float, ...] | str) -> np.ndarray:
    """The initializer record MATLAB keeps next to every learnable (R2021a and later)."""
    cells = [_char(a) if isinstance(a, str) else _double(a) for a in arguments]
    return _struct(
        {
            "Version": _double(1),
            "Class": _char(_INIT + kind),
            "ConstructorArguments": _cell(cells) if cells else _empty(),
        }
    )


def _glorot_conv() -> np.ndarray:
    return _initializer("Glorot", (1, 2, 3), (1, 2, 4))


def _glorot_dense() -> np.ndarray:
    return _initializer("Glorot", (2,), (1,))


def _learnable(
    value: Any, l2_factor: float, initializer: np.ndarray, shape: Sequence[int] | None = None
) -> np.ndarray:
    """{Version, Value, LearnRateFactor, L2Factor, Initializer}: the struct of every learnable."""
    return _struct(
        {
            "Version": _double(2),
            "Value": _empty() if value is None else _single(value, shape),
            "LearnRateFactor": _double(1),
            "L2Factor": _double(l2_factor),
            "Initializer": initializer,
        }
    )


def _weights(value: Any, initializer: np.ndarray) -> np.ndarray:
    return _learnable(value, 1.0, initializer)


def _bias(value: Any, shape: Sequence[int], initializer: np.ndarray | None = None) -> np.ndarray:
    return _learnable(value, 0.0, _initializer("Zeros") if initializer is None else initializer, shape)


# ---------------------------------------------------------------- schemas


def _fields(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_NAME = _fields("Version Name")
_IMAGE_IN = _fields("Version Name InputSize Normalization Augmentations")
_SEQ_IN = _fields("Version Name InputSize Normalization NormalizationDimension")
_CONV = _fields(
    "Version Name FilterSize NumChannels NumFilters Stride DilationFactor PaddingMode PaddingSize"
)
_BN = _fields("Version Name Epsilon NumChannels ChannelDim TrainedMean TrainedVariance")
_POOL = _fields("Version Name PoolSize Stride PaddingMode PaddingSize")
_POOL_TIME = _fields("PoolOverTime DistributeOverTime PoolingDimIdx")
_RNN = _fields(
    "Version Name InputSize NumHiddenUnits ReturnSequence StateActivationFunction GateActivationFunction"
)
_LSTM = _RNN + _fields(
    "InputWeights RecurrentWeights Bias CellState HiddenState InitialCellState InitialHiddenState"
)

# `any` field order per class and saveobj version: "seen" versions are copied from the
# corpus, "inferred" ones follow the closest real class (see each builder's docstring).
_ANY_FIELDS: dict[str, dict[int, tuple[str, ...]]] = {
    "ImageInputLayer": {  # seen: 3, 4, 5
        3: _IMAGE_IN,
        4: _IMAGE_IN + _fields("NormalizationDimension"),
        5: _IMAGE_IN + _fields("NormalizationDimension SplitComplexInputs"),
    },
    "SequenceInputLayer": {3: _SEQ_IN, 5: _SEQ_IN + _fields("MinLength SplitComplexInputs")},  # seen
    "FeatureInputLayer": {2: _SEQ_IN + _fields("SplitComplexInputs")},  # seen
    "Convolution2DLayer": {  # seen: 5, 6, 8
        5: _CONV + _fields("Weights Bias"),
        6: _CONV + _fields("PaddingValue Weights Bias"),
        8: _CONV
        + _fields("PaddingValue Weights Bias ConvolveOverTime DistributeOverTime ConvolutionDimIdx")
        + _fields("CudnnGPUAlgoForward"),
    },
    "TransposedConvolution2DLayer": {  # seen
        2: _fields("Version Name FilterSize NumChannels NumFilters Stride CroppingMode CroppingSize")
        + _fields("Weights Bias OutputSizeOffset")
    },
    "GroupedConvolution2DLayer": {  # inferred
        1: _fields("Version Name FilterSize NumChannelsPerGroup NumFiltersPerGroup NumGroups Stride")
        + _fields("DilationFactor PaddingMode PaddingSize PaddingValue Weights Bias")
    },
    "FullyConnectedLayer": {3: _fields("Version Name InputSize OutputSize Weights Bias")},  # seen
    "BatchNormalizationLayer": {  # seen: 2, 3
        2: _BN + _fields("NumTrainingSamples Offset Scale"),
        3: _BN + _fields("MeanDecay VarianceDecay IsMovingAverageMode NumTrainingSamples Offset Scale"),
    },
    "LayerNormalizationLayer": {  # inferred
        1: _fields("Version Name Epsilon NumChannels OperationDimension Offset Scale")
    },
    "MaxPooling2DLayer": {  # seen: 2, 3
        2: _POOL + _fields("HasUnpoolingOutputs"),
        3: _POOL + _fields("HasUnpoolingOutputs") + _POOL_TIME,
    },
    "AveragePooling2DLayer": {3: _POOL + _fields("PaddingValue") + _POOL_TIME},  # inferred
    "GlobalAveragePooling2DLayer": {1: _NAME},  # inferred
    "GlobalMaxPooling2DLayer": {1: _NAME},  # inferred
    "ReLULayer": {1: _NAME},  # seen
    "LeakyReLULayer": {1: _NAME + _fields("Scale")},  # seen
    "ClippedReLULayer": {1: _NAME + _fields("Ceiling")},  # inferred
    "TanhLayer": {1: _NAME},  # inferred
    "SigmoidLayer": {1: _NAME},  # inferred
    "SwishLayer": {1: _NAME},  # inferred
    "GELULayer": {1: _NAME + _fields("Approximation")},  # inferred
    "DropoutLayer": {1: _NAME + _fields("Probability")},  # seen
    "FlattenLayer": {1: _NAME + _fields("NumFlattenDimensions")},  # seen
    "SoftmaxLayer": {  # seen: 3, 4
        3: _NAME + _fields("VectorFormat ChannelDim"),
        4: _NAME + _fields("ChannelDim VectorFormat"),
    },
    "ClassificationOutputLayer": {  # seen: 3, 4
        3: _NAME + _fields("ObservationDim NumClasses Categories"),
        4: _NAME + _fields("ObservationDim NumClasses Categories ClassWeights"),
    },
    "RegressionOutputLayer": {2: _NAME + _fields("ResponseNames ObservationDim")},  # seen
    "AdditionLayer": {1: _NAME + _fields("NumInputs")},  # seen
    "DepthConcatenationLayer": {1: _NAME + _fields("NumInputs")},  # seen
    "ConcatenationLayer": {1: _NAME + _fields("Dim NumInputs")},  # inferred
    "MultiplicationLayer": {1: _NAME + _fields("NumInputs")},  # inferred
    "LSTMLayer": {4: _LSTM},  # seen
    "BiLSTMLayer": {3: _LSTM},  # inferred (MATLAB_FORMAT.md lists the same fields)
    "GRULayer": {  # inferred
        1: _RNN + _fields("ResetGateMode InputWeights RecurrentWeights Bias HiddenState InitialHiddenState")
    },
}

_LAYER_DEFAULTS = {"Version": _double(1)}
# nnet.layer.Layer subclasses (ELULayer, FunctionLayer, custom layers) share these defaults.
_CUSTOM_LAYER_DEFAULTS = {
    "Name": _char(""),
    "Description": _char(""),
    "Type": _char(""),
    "nnet.layer.Layer.PrivateInputs": _cell([_char("in")]),
    "nnet.layer.Layer.PrivateOutputs": _cell([_char("out")]),
    "Version": _double(1),
}
# Defaults of classes that mat-io or the containers create, as MATLAB saves them.
_OTHER_CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "nnet.cnn.layer.Layer": {"Version": _double(1)},
    "table": {"data": np.empty((1, 0), dtype=object)},
    "categorical": {
        "categoryNames": np.empty((0, 0), dtype=object),
        "codes": np.empty((0, 0), dtype=np.uint8),
        "isProtected": _logical(False),
        "isOrdinal": _logical(False),
    },
}


def _builtin_layer(
    cls: str,
    fields: Mapping[str, Any],
    version: int | None = None,
    defaults: Mapping[str, Any] = _LAYER_DEFAULTS,
) -> Layer:
    """A built-in layer: its saveobj struct in ``any``, projected on one schema version."""
    versions = _ANY_FIELDS[cls]
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise ValueError(f"{cls} schema version {version} is unknown; known versions: {sorted(versions)}")
    values = {"Version": _double(chosen), **fields}
    names = versions[chosen]
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"{cls} v{chosen} needs fields the builder did not set: {missing}")
    return _DltObject(_NNET + cls, {"any": _struct({name: values[name] for name in names})}, defaults)


# ---------------------------------------------------------------- input layers

_STATISTICS = {
    "zerocenter": ("AverageImage",),
    "zscore": ("Mean", "Std"),
    "rescale-symmetric": ("Min", "Max"),
    "rescale-zero-one": ("Min", "Max"),
}


def _normalization(kind: str, input_size: Size, stats: Mapping[str, Any], image: bool) -> np.ndarray:
    """``[]`` for 'none', else the struct MATLAB saves (zerocenter seen; the others inferred)."""
    if kind == "none":
        return np.empty((1, 0) if image else (0, 0))
    if kind not in _STATISTICS:
        raise ValueError(f"unknown normalization {kind!r}; use 'none' or one of {sorted(_STATISTICS)}")
    fields: dict[str, Any] = {"Version": _double(2), "Type": _char(kind), "ImageSize": _double(input_size)}
    for key in _STATISTICS[kind]:
        fields[key] = _statistic(stats[key], image)
    fields["NumTrainingSamples"] = _double(0)
    return _struct(fields)


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
    stats = {"AverageImage": mean, "Mean": mean, "Std": std, "Min": min, "Max": max}
    fields = {
        "Name": _char(name),
        "InputSize": _double(input_size),
        "Normalization": _normalization(normalization, input_size, stats, True),
        "Augmentations": np.empty((1, 0)),
        "NormalizationDimension": _char(normalization_dimension),
        "SplitComplexInputs": _logical(split_complex_inputs),
    }
    return _builtin_layer("ImageInputLayer", fields, version)


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
    stats = {"AverageImage": mean, "Mean": mean, "Std": std, "Min": min, "Max": max}
    fields = {
        "Name": _char(name),
        "InputSize": _double(input_size),
        "Normalization": _normalization(normalization, input_size, stats, False),
        "NormalizationDimension": _char(normalization_dimension),
        "MinLength": _double(min_length),
        "SplitComplexInputs": _logical(split_complex_inputs),
    }
    return _builtin_layer("SequenceInputLayer", fields, version)


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
    stats = {"AverageImage": mean, "Mean": mean, "Std": std, "Min": min, "Max": max}
    fields = {
        "Name": _char(name),
        "InputSize": _double(input_size),
        "Normalization": _normalization(normalization, input_size, stats, False),
        "NormalizationDimension": _char(normalization_dimension),
        "SplitComplexInputs": _logical(split_complex_inputs),
    }
    return _builtin_layer("FeatureInputLayer", fields)


# ---------------------------------------------------------------- convolution


def _kernel_dims(
    weights: Any, filter_size: Sequence[int] | None, num_filters: int | None, filters_axis: int
) -> list[int | None]:
    """The 4-D weight shape (restoring dropped singletons); untrained: channels unknown."""
    if weights is None:
        if filter_size is None or num_filters is None:
            raise ValueError("an untrained layer needs filter_size and num_filters")
        dims: list[int | None] = [*filter_size, None, None]
        dims[filters_axis] = num_filters
        return dims
    dims = list(_padded(np.shape(weights), 4))
    if filter_size is not None and tuple(filter_size) != tuple(dims[:2]):
        raise ValueError(f"filter_size {tuple(filter_size)} does not match weights {tuple(dims)}")
    return dims


def _padding_value(value: float | str) -> np.ndarray:
    return _char(value) if isinstance(value, str) else _double(value)


def _optional(values: Size | None) -> np.ndarray:
    return _empty() if values is None else _double(values)


def conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1),
    dilation: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    padding_value: float | str = 0,
    version: int | None = None,
) -> Layer:
    """Convolution2DLayer (v8 default; v5, v6 for older files). Weights FH×FW×Cin×Cout;
    ``padding`` is [top bottom left right] (MATLAB stores the resolved size for 'same' in
    trained networks and ``None`` → [] in untrained graphs). A missing bias is zeros."""
    fh, fw, cin, cout = _kernel_dims(weights, filter_size, num_filters, filters_axis=3)
    trained = weights is not None
    if trained and bias is None:
        bias = np.zeros(cout or 0, dtype=np.float32)
    fields = {
        "Name": _char(name),
        "FilterSize": _double((fh or 0, fw or 0)),
        "NumChannels": _scalar_or_empty(cin),
        "NumFilters": _double(cout),
        "Stride": _double(stride),
        "DilationFactor": _double(dilation),
        "PaddingMode": _char(padding_mode),
        "PaddingSize": _optional(padding),
        "PaddingValue": _padding_value(padding_value),
        "Weights": _weights(weights, _glorot_conv()),
        "Bias": _bias(bias, (1, 1, cout or 0)),
        # A layer never placed in an initialized network stores these as [].
        "ConvolveOverTime": _logical(False) if trained else _empty(),
        "DistributeOverTime": _logical(False) if trained else _empty(),
        "ConvolutionDimIdx": _double((1, 2)) if trained else _empty(),
        "CudnnGPUAlgoForward": _double(-1),
    }
    return _builtin_layer("Convolution2DLayer", fields, version)


def transposed_conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters: int | None = None,
    stride: Sequence[float] = (1, 1),
    cropping_mode: str = "manual",
    cropping: Sequence[float] | None = (0, 0, 0, 0),
    output_size_offset: Sequence[float] | None = None,
) -> Layer:
    """TransposedConvolution2DLayer v2. Weights FH×FW×Cout×Cin (MATLAB's transposed
    layout); ``cropping`` is [top bottom left right]. A missing bias is zeros."""
    fh, fw, cout, cin = _kernel_dims(weights, filter_size, num_filters, filters_axis=2)
    if weights is not None and bias is None:
        bias = np.zeros(cout or 0, dtype=np.float32)
    fields = {
        "Name": _char(name),
        "FilterSize": _double((fh or 0, fw or 0)),
        "NumChannels": _scalar_or_empty(cin),
        "NumFilters": _double(cout),
        "Stride": _double(stride),
        "CroppingMode": _char(cropping_mode),
        "CroppingSize": _optional(cropping),
        "Weights": _weights(weights, _initializer("Glorot", (1, 2, 4), (1, 2, 3))),
        "Bias": _bias(bias, (1, 1, cout or 0)),
        "OutputSizeOffset": _optional(output_size_offset),
    }
    return _builtin_layer("TransposedConvolution2DLayer", fields)


def grouped_conv2d(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    filter_size: Sequence[int] | None = None,
    num_filters_per_group: int | None = None,
    num_groups: int | None = None,
    stride: Sequence[float] = (1, 1),
    dilation: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    padding_value: float | str = 0,
) -> Layer:
    """GroupedConvolution2DLayer — schema inferred, no real sample (Convolution2DLayer v6
    layout with MATLAB's per-group property names). Weights FH×FW×(Cin/G)×(F/G)×G, bias
    1×1×(F/G)×G."""
    if weights is None:
        if filter_size is None or num_filters_per_group is None or num_groups is None:
            raise ValueError("an untrained grouped conv needs filter_size, num_filters_per_group, num_groups")
        fh, fw = filter_size
        cin_g, f_g, groups = None, num_filters_per_group, num_groups
    else:
        fh, fw, cin_g, f_g, groups = _padded(np.shape(weights), 5)
        bias = np.zeros(f_g * groups, dtype=np.float32) if bias is None else bias
    fields = {
        "Name": _char(name),
        "FilterSize": _double((fh, fw)),
        "NumChannelsPerGroup": _scalar_or_empty(cin_g),
        "NumFiltersPerGroup": _double(f_g),
        "NumGroups": _double(groups),
        "Stride": _double(stride),
        "DilationFactor": _double(dilation),
        "PaddingMode": _char(padding_mode),
        "PaddingSize": _optional(padding),
        "PaddingValue": _padding_value(padding_value),
        "Weights": _weights(weights, _glorot_conv()),
        "Bias": _bias(bias, (1, 1, f_g, groups)),
    }
    return _builtin_layer("GroupedConvolution2DLayer", fields)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == _AUTO


def fully_connected(
    name: str,
    weights: Any = None,
    bias: Any = None,
    *,
    output_size: Size | Literal["auto"] = _AUTO,
    input_size: Size | Literal["auto"] | None = _AUTO,
) -> Layer:
    """FullyConnectedLayer v3. Weights Out×In, or H×W×C×Out in image networks (any weights
    with 3 or more dimensions are image-style, e.g. 1×1×64 for one output). 'auto' sizes
    are what trainNetwork stores ([H W C] / [1 1 Out] for image-style); dlnetworks keep
    ``input_size=None`` ([]) and a scalar ``output_size``. A missing bias is zeros."""
    if weights is None:
        if _is_auto(output_size):
            raise ValueError("an untrained fully connected layer needs output_size")
        auto_in: Size | None = None
        auto_out: Size = output_size
        bias_shape: tuple[int, ...] = (int(np.prod(output_size)), 1)
    elif np.ndim(weights) >= 3:
        h, w, c, out = _padded(np.shape(weights), 4)
        auto_in, auto_out, bias_shape = (h, w, c), (1, 1, out), (1, 1, out)
    else:
        out, inputs = np.shape(weights)
        auto_in, auto_out, bias_shape = inputs, out, (out, 1)
    if weights is not None and bias is None:
        bias = np.zeros(int(np.prod(bias_shape)), dtype=np.float32)
    fields = {
        "Name": _char(name),
        "InputSize": _optional(auto_in if _is_auto(input_size) else input_size),
        "OutputSize": _double(auto_out if _is_auto(output_size) else output_size),
        "Weights": _weights(weights, _glorot_dense()),
        "Bias": _bias(bias, bias_shape),
    }
    return _builtin_layer("FullyConnectedLayer", fields)


# ---------------------------------------------------------------- normalization


def _channel_count(*arrays: Any) -> int | None:
    sizes = {int(np.size(a)) for a in arrays if a is not None}
    if len(sizes) > 1:
        raise ValueError(f"per-channel arrays disagree on the channel count: {sorted(sizes)}")
    return sizes.pop() if sizes else None


def batchnorm(
    name: str,
    mean: Any = None,
    var: Any = None,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    channel_dim: int | None = 3,
    mean_decay: float = 0.1,
    variance_decay: float = 0.1,
    version: int | None = None,
) -> Layer:
    """BatchNormalizationLayer (v3 default, v2). Per-channel arrays are stored 1×1×C.
    ``channel_dim`` is 3 in image networks trained with trainNetwork and ``None`` ([])
    in dlnetworks and untrained layers. NumTrainingSamples is stored as 0."""
    n = _channel_count(mean, var, offset, scale)
    shape = (1, 1, n or 0)
    fields = {
        "Name": _char(name),
        "Epsilon": _double(epsilon),
        "NumChannels": _scalar_or_empty(n),
        "ChannelDim": _scalar_or_empty(channel_dim),
        "TrainedMean": _empty() if mean is None else _single(mean, shape),
        "TrainedVariance": _empty() if var is None else _single(var, shape),
        "MeanDecay": _double(mean_decay),
        "VarianceDecay": _double(variance_decay),
        "IsMovingAverageMode": _logical(False),
        "NumTrainingSamples": _double(0),
        "Offset": _learnable(offset, 1.0, _initializer("Zeros"), shape),
        "Scale": _learnable(scale, 1.0, _initializer("Ones"), shape),
    }
    return _builtin_layer("BatchNormalizationLayer", fields, version)


def layer_norm(
    name: str,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-5,
    *,
    operation_dimension: str = "auto",
    for_images: bool = True,
) -> Layer:
    """LayerNormalizationLayer — schema inferred, no real sample (BatchNormalizationLayer's
    learnables; Offset/Scale 1×1×C for images, C×1 for sequences and features)."""
    n = _channel_count(offset, scale)
    shape = (1, 1, n or 0) if for_images else (n or 0, 1)
    fields = {
        "Name": _char(name),
        "Epsilon": _double(epsilon),
        "NumChannels": _scalar_or_empty(n),
        "OperationDimension": _char(operation_dimension),
        "Offset": _learnable(offset, 1.0, _initializer("Zeros"), shape),
        "Scale": _learnable(scale, 1.0, _initializer("Ones"), shape),
    }
    return _builtin_layer("LayerNormalizationLayer", fields)


# ---------------------------------------------------------------- activations


def relu(name: str) -> Layer:
    """ReLULayer v1."""
    return _builtin_layer("ReLULayer", {"Name": _char(name)})


def leaky_relu(name: str, scale: float = 0.01) -> Layer:
    """LeakyReLULayer v1."""
    return _builtin_layer("LeakyReLULayer", {"Name": _char(name), "Scale": _double(scale)})


def clipped_relu(name: str, ceiling: float) -> Layer:
    """ClippedReLULayer — schema inferred, no real sample (LeakyReLULayer's pattern)."""
    return _builtin_layer("ClippedReLULayer", {"Name": _char(name), "Ceiling": _double(ceiling)})


def tanh_layer(name: str) -> Layer:
    """TanhLayer — schema inferred, no real sample (ReLULayer's pattern)."""
    return _builtin_layer("TanhLayer", {"Name": _char(name)})


def sigmoid_layer(name: str) -> Layer:
    """SigmoidLayer (built-in, R2020b+) — schema inferred, no real sample (ReLULayer's pattern)."""
    return _builtin_layer("SigmoidLayer", {"Name": _char(name)})


def swish(name: str) -> Layer:
    """SwishLayer — schema inferred, no real sample (ReLULayer's pattern)."""
    return _builtin_layer("SwishLayer", {"Name": _char(name)})


def gelu(name: str, approximation: str = "none") -> Layer:
    """GELULayer — schema inferred, no real sample (LeakyReLULayer's pattern)."""
    return _builtin_layer("GELULayer", {"Name": _char(name), "Approximation": _char(approximation)})


def elu(name: str, alpha: float = 1.0) -> Layer:
    """ELULayer: an nnet.layer.Layer subclass, so plain properties (as in eeg_eegNet.mat)."""
    properties = {
        "Alpha": _double(alpha),
        "Name": _char(name),
        "Description": _char(f"ELU with Alpha {alpha:.5g}"),
        "Type": _char("ELU"),
        "nnet.cnn.layer.mixin.Learnable.LearnRateFactor": _empty(),
        "nnet.cnn.layer.mixin.Learnable.L2Factor": _empty(),
        "nnet.cnn.layer.mixin.Learnable.LearnablesTypes": _empty(),
    }
    return _DltObject(_NNET + "ELULayer", properties, _CUSTOM_LAYER_DEFAULTS)


def dropout(name: str, probability: float = 0.5) -> Layer:
    """DropoutLayer v1."""
    return _builtin_layer("DropoutLayer", {"Name": _char(name), "Probability": _double(probability)})


def softmax(
    name: str, *, channel_dim: int | None = 3, vector_format: bool = False, version: int | None = None
) -> Layer:
    """SoftmaxLayer (v4 default, v3). Image networks: channel_dim 3; sequence/feature
    networks: channel_dim 1 with vector_format True; untrained: channel_dim None ([])."""
    fields = {
        "Name": _char(name),
        "ChannelDim": _scalar_or_empty(channel_dim),
        "VectorFormat": _logical(vector_format),
    }
    return _builtin_layer("SoftmaxLayer", fields, version)


def flatten(name: str, num_flatten_dimensions: int = 3) -> Layer:
    """FlattenLayer v1."""
    fields = {"Name": _char(name), "NumFlattenDimensions": _double(num_flatten_dimensions)}
    return _builtin_layer("FlattenLayer", fields)


# ---------------------------------------------------------------- pooling


def _pool_fields(
    name: str,
    pool_size: Sequence[float],
    stride: Sequence[float],
    padding_mode: str,
    padding: Sequence[float] | None,
    initialized: bool,
) -> dict[str, Any]:
    return {
        "Name": _char(name),
        "PoolSize": _double(pool_size),
        "Stride": _double(stride),
        "PaddingMode": _char(padding_mode),
        "PaddingSize": _optional(padding),
        "HasUnpoolingOutputs": _logical(False),
        # A layer never placed in an initialized network stores these as [].
        "PoolOverTime": _logical(False) if initialized else _empty(),
        "DistributeOverTime": _logical(False) if initialized else _empty(),
        "PoolingDimIdx": _double((1, 2)) if initialized else _empty(),
    }


def max_pool2d(
    name: str,
    pool_size: Sequence[float],
    *,
    stride: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    initialized: bool = True,
    version: int | None = None,
) -> Layer:
    """MaxPooling2DLayer (v3 default, v2). ``padding`` is [top bottom left right]."""
    fields = _pool_fields(name, pool_size, stride, padding_mode, padding, initialized)
    return _builtin_layer("MaxPooling2DLayer", fields, version)


def avg_pool2d(
    name: str,
    pool_size: Sequence[float],
    *,
    stride: Sequence[float] = (1, 1),
    padding_mode: str = "manual",
    padding: Sequence[float] | None = (0, 0, 0, 0),
    padding_value: float | str = 0,
    initialized: bool = True,
) -> Layer:
    """AveragePooling2DLayer — schema inferred, no real sample (MaxPooling2DLayer v3's
    layout plus PaddingValue, without HasUnpoolingOutputs)."""
    fields = _pool_fields(name, pool_size, stride, padding_mode, padding, initialized)
    fields["PaddingValue"] = _padding_value(padding_value)
    return _builtin_layer("AveragePooling2DLayer", fields)


def global_avg_pool2d(name: str) -> Layer:
    """GlobalAveragePooling2DLayer — schema inferred, no real sample (Name only)."""
    return _builtin_layer("GlobalAveragePooling2DLayer", {"Name": _char(name)})


def global_max_pool2d(name: str) -> Layer:
    """GlobalMaxPooling2DLayer — schema inferred, no real sample (Name only)."""
    return _builtin_layer("GlobalMaxPooling2DLayer", {"Name": _char(name)})


# ---------------------------------------------------------------- outputs and merges


def classification_output(
    name: str,
    classes: Sequence[str] | None = None,
    *,
    class_weights: Sequence[float] | None = None,
    observation_dim: int | None = 4,
    version: int | None = None,
) -> Layer:
    """ClassificationOutputLayer (v4 default, v3). ``classes`` become an N×1 categorical
    (``None``: untrained). observation_dim is 4 for images, 2 for sequences/features.
    Non-empty ``class_weights`` are inferred (stored as a row)."""
    fields = {
        "Name": _char(name),
        "ObservationDim": _scalar_or_empty(observation_dim),
        "NumClasses": _scalar_or_empty(len(classes) if classes is not None and len(classes) else None),
        "Categories": _categorical(classes),
        "ClassWeights": _optional(class_weights),
    }
    defaults = {"LossFunction": _char("crossentropyex"), **_LAYER_DEFAULTS}
    return _builtin_layer("ClassificationOutputLayer", fields, version, defaults)


def regression_output(
    name: str, response_names: Sequence[str] | None = ("Response",), *, observation_dim: int | None = 4
) -> Layer:
    """RegressionOutputLayer v2. Untrained graphs store ``response_names=None`` and
    ``observation_dim=None`` ([]); several names are stored as a 1×N cell (inferred)."""
    names = np.empty((0, 0), dtype=object)
    if response_names is not None and len(response_names) > 0:
        names = _cell([_char(str(n)) for n in response_names])
    fields = {
        "Name": _char(name),
        "ResponseNames": names,
        "ObservationDim": _scalar_or_empty(observation_dim),
    }
    defaults = {"LossFunction": _char("mean-squared-error"), **_LAYER_DEFAULTS}
    return _builtin_layer("RegressionOutputLayer", fields, None, defaults)


def addition(name: str, num_inputs: int = 2) -> Layer:
    """AdditionLayer v1 (inputs 'in1'..'inN')."""
    return _builtin_layer("AdditionLayer", {"Name": _char(name), "NumInputs": _double(num_inputs)})


def depth_concatenation(name: str, num_inputs: int = 2) -> Layer:
    """DepthConcatenationLayer v1."""
    return _builtin_layer("DepthConcatenationLayer", {"Name": _char(name), "NumInputs": _double(num_inputs)})


def concatenation(name: str, dim: int, num_inputs: int = 2) -> Layer:
    """ConcatenationLayer — schema inferred, no real sample (DepthConcatenationLayer plus Dim)."""
    fields = {"Name": _char(name), "Dim": _double(dim), "NumInputs": _double(num_inputs)}
    return _builtin_layer("ConcatenationLayer", fields)


def multiplication(name: str, num_inputs: int = 2) -> Layer:
    """MultiplicationLayer — schema inferred, no real sample (AdditionLayer's pattern)."""
    return _builtin_layer("MultiplicationLayer", {"Name": _char(name), "NumInputs": _double(num_inputs)})


# ---------------------------------------------------------------- recurrent


@dataclass(frozen=True)
class _Recurrent:
    """What LSTM, BiLSTM and GRU share: weights, sizes, activations and initial states."""

    input_weights: Any
    recurrent_weights: Any
    bias: Any
    num_hidden_units: int | None
    output_mode: str
    state_activation: str
    gate_activation: str

    def hidden_units(self, cls: str) -> int:
        if self.recurrent_weights is not None:
            return int(np.shape(self.recurrent_weights)[1])
        if self.num_hidden_units is None:
            raise ValueError(f"a {cls} without recurrent weights needs num_hidden_units")
        return self.num_hidden_units

    def fields(self, name: str, bias_rows: int, bias_initializer: np.ndarray) -> dict[str, Any]:
        trained = self.input_weights is not None
        bias = self.bias
        if trained and bias is None:
            bias = np.zeros(bias_rows, dtype=np.float32)
        return {
            "Name": _char(name),
            "InputSize": _double(np.shape(self.input_weights)[1]) if trained else _empty(),
            "ReturnSequence": _logical(self.output_mode == "sequence"),
            "StateActivationFunction": _char(self.state_activation),
            "GateActivationFunction": _char(self.gate_activation),
            "InputWeights": _weights(self.input_weights, _glorot_dense()),
            "RecurrentWeights": _weights(self.recurrent_weights, _initializer("Orthogonal")),
            "Bias": _bias(bias, (bias_rows, 1), bias_initializer),
        }

    def state(self, value: Any, rows: int) -> np.ndarray:
        """A given state, else zeros; untrained layers store [] (inferred)."""
        if value is not None:
            return _single(value, (rows, 1))
        return _empty() if self.input_weights is None else np.zeros((rows, 1), dtype=np.float32)


def _remembered(value: np.ndarray) -> np.ndarray:
    return _struct({"Value": value, "Remember": _logical(True)})


def _lstm_layer(
    cls: str, name: str, rnn: _Recurrent, directions: int, states: tuple[Any, Any], bias_kind: str
) -> Layer:
    hidden = rnn.hidden_units(cls)
    rows = hidden * directions
    fields = rnn.fields(name, 4 * rows, _initializer("UnitForgetGate", bias_kind))
    hidden_state, cell_state = (rnn.state(value, rows) for value in states)
    fields |= {
        "NumHiddenUnits": _double(hidden),
        "CellState": _remembered(cell_state),
        "HiddenState": _remembered(hidden_state),
        "InitialCellState": cell_state,
        "InitialHiddenState": hidden_state,
    }
    return _builtin_layer(cls, fields)


def lstm(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    *,
    num_hidden_units: int | None = None,
    output_mode: str = "sequence",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
    cell_state: Any = None,
) -> Layer:
    """LSTMLayer v4. InputWeights 4H×In, RecurrentWeights 4H×H, Bias 4H×1 (gates i f g o).
    States default to zeros; ``output_mode='last'`` stores ReturnSequence false."""
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        num_hidden_units,
        output_mode,
        state_activation,
        gate_activation,
    )
    return _lstm_layer("LSTMLayer", name, rnn, 1, (hidden_state, cell_state), "LSTM")


def bilstm(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    *,
    num_hidden_units: int | None = None,
    output_mode: str = "sequence",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
    cell_state: Any = None,
) -> Layer:
    """BiLSTMLayer v3 — schema inferred, no real sample (LSTMLayer v4's fields, as
    MATLAB_FORMAT.md lists). InputWeights 8H×In, RecurrentWeights 8H×H, Bias 8H×1, states
    2H×1 (forward rows first)."""
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        num_hidden_units,
        output_mode,
        state_activation,
        gate_activation,
    )
    return _lstm_layer("BiLSTMLayer", name, rnn, 2, (hidden_state, cell_state), "BiLSTM")


def gru(
    name: str,
    input_weights: Any = None,
    recurrent_weights: Any = None,
    bias: Any = None,
    *,
    num_hidden_units: int | None = None,
    output_mode: str = "sequence",
    reset_gate_mode: str = "after-multiplication",
    state_activation: str = "tanh",
    gate_activation: str = "sigmoid",
    hidden_state: Any = None,
) -> Layer:
    """GRULayer — schema inferred, no real sample (LSTMLayer's pattern without the cell
    state, plus ResetGateMode). InputWeights 3H×In, RecurrentWeights 3H×H, Bias 3H×1
    (6H×1 for 'recurrent-bias-after-multiplication'), gates r z h̃."""
    rnn = _Recurrent(
        input_weights,
        recurrent_weights,
        bias,
        num_hidden_units,
        output_mode,
        state_activation,
        gate_activation,
    )
    hidden = rnn.hidden_units("GRULayer")
    bias_rows = (6 if reset_gate_mode == "recurrent-bias-after-multiplication" else 3) * hidden
    fields = rnn.fields(name, bias_rows, _initializer("Zeros"))
    state = rnn.state(hidden_state, hidden)
    fields |= {
        "NumHiddenUnits": _double(hidden),
        "ResetGateMode": _char(reset_gate_mode),
        "HiddenState": _remembered(state),
        "InitialHiddenState": state,
    }
    return _builtin_layer("GRULayer", fields)


# ---------------------------------------------------------------- containers


def _layer_array(layers: Sequence[Layer]) -> MatlabOpaqueArray:
    """An N×1 heterogeneous array of class nnet.cnn.layer.Layer, as every network stores."""
    array = np.empty((len(layers), 1), dtype=object)
    for index, layer in enumerate(layers):
        array[index, 0] = layer
    return MatlabOpaqueArray(array, "nnet.cnn.layer.Layer")


def _connections(edges: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """The Connections table: one row per edge, each cell a char vector ('add/in2' allowed)."""
    pairs = list(edges)
    columns = {
        "Source": pd.Series([_char(src) for src, _ in pairs], dtype=object),
        "Destination": pd.Series([_char(dst) for _, dst in pairs], dtype=object),
    }
    return pd.DataFrame(columns)


def _quantization_info() -> np.ndarray:
    return _struct({"version": _double(1), "data": MatlabContainerMap()})


def series_network(layers: Sequence[Layer]) -> MatlabOpaque:
    """SeriesNetwork (saveobj Version 1): layers in order, no connections table."""
    fields = {"Version": _double(1), "Layers": _layer_array(layers)}
    return _DltObject("SeriesNetwork", {"any": _struct(fields)}, {})


def dag_network(layers: Sequence[Layer], connections: Iterable[tuple[str, str]]) -> MatlabOpaque:
    """DAGNetwork (saveobj Version 2), with the empty quantization info MATLAB adds."""
    fields = {
        "Version": _double(2),
        "Layers": _layer_array(layers),
        "Connections": _connections(connections),
        "SerializedQuantizationInfo": _quantization_info(),
    }
    return _DltObject("DAGNetwork", {"any": _struct(fields)}, {})


def layer_graph(layers: Sequence[Layer], connections: Iterable[tuple[str, str]]) -> MatlabOpaque:
    """nnet.cnn.LayerGraph (saveobj Version 1)."""
    fields = {"Version": _double(1), "Layers": _layer_array(layers), "Connections": _connections(connections)}
    return _DltObject("nnet.cnn.LayerGraph", {"any": _struct(fields)}, {})


def _layer_name(layer: Layer) -> str:
    record = layer.properties["any"][0, 0] if "any" in layer.properties else layer.properties
    return str(record["Name"].item()) if record["Name"].size else ""


def _sink_names(layers: Sequence[Layer], edges: Sequence[tuple[str, str]]) -> list[str]:
    """Layers whose output feeds nothing, in layer order: a dlnetwork's default outputs."""
    sources = {src.split("/")[0] for src, _ in edges}
    return [name for name in map(_layer_name, layers) if name not in sources]


def dlnetwork(
    layers: Sequence[Layer],
    connections: Iterable[tuple[str, str]],
    version: Literal[4, 6] = 6,
    output_names: Sequence[str] | None = None,
) -> MatlabOpaque:
    """dlnetwork (saveobj v6 as trainnet saves in 2024, or v4 as in 2022-23): an
    initialized network wrapping a LayerGraph. ``output_names`` default to the layers
    that feed nothing."""
    if version not in (4, 6):
        raise ValueError(f"dlnetwork schema version {version} is unknown; known versions: [4, 6]")
    edges = list(connections)
    outputs = list(output_names) if output_names is not None else _sink_names(layers, edges)
    fields: dict[str, Any] = {
        "Version": _double(version),
        "LayerGraph": layer_graph(layers, edges),
        "Initialized": _logical(True),
        "SerializedQuantizationInfo": _quantization_info(),
        "ExampleInputs": np.empty((0, 0) if version == 6 else (1, 0), dtype=object),
        "OutputNames": _cell([_char(n) for n in outputs]),
    }
    defaults: dict[str, Any] = {"ExampleInputs": np.empty((0, 0), dtype=object)}
    if version == 6:
        fields |= {
            "ExternalOutputNames": _empty(),
            "ExternalInputNames": _empty(),
            "RetainCustomInputNames": _logical(True),
            "RetainCustomOutputNames": _logical(True),
        }
        defaults |= {"ExternalInputNames": _empty(), "ExternalOutputNames": _empty()}
        defaults |= {"RetainCustomInputNames": _logical(True), "RetainCustomOutputNames": _logical(True)}
    else:
        defaults["ExternalOutputNames"] = _empty()
    defaults["InitializationState"] = np.array([["uninit"]], dtype=np.dtypes.StringDType(na_object=np.nan))
    return _DltObject("dlnetwork", {"any": _struct(fields)}, defaults)


# ---------------------------------------------------------------- writing


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, MatlabOpaque):
        if isinstance(value.properties, dict):
            yield from value.properties.values()
    elif isinstance(value, np.ndarray) and value.dtype.names:
        for element in value.flat:
            yield from (element[name] for name in value.dtype.names)
    elif isinstance(value, np.ndarray) and value.dtype.kind == "O":
        yield from value.flat


def _objects(values: Iterable[Any]) -> Iterator[MatlabOpaque]:
    """Every MATLAB object reachable from ``values``, once each (objects may share children)."""
    stack, seen = list(values), set()
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, MatlabOpaque):
            yield value
        stack.extend(_children(value))


def _class_plan(variables: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per-class defaults and the saveobj classes (those whose objects hold only ``any``)."""
    defaults: dict[str, dict[str, Any]] = {}
    saveobj: set[str] = set()
    for obj in _objects(variables.values()):
        if not isinstance(obj, _DltObject):
            continue
        known = defaults.setdefault(obj.classname, obj.class_defaults)
        if list(known) != list(obj.class_defaults):
            raise ValueError(
                f"two {obj.classname} objects need different class defaults (e.g. dlnetwork v4 and v6); "
                "MATLAB saves one set per class and file, so write them to separate files"
            )
        if set(obj.properties) == {"any"}:
            saveobj.add(obj.classname)
    return {**_OTHER_CLASS_DEFAULTS, **{k: v for k, v in defaults.items() if v}}, sorted(saveobj)


_SAVE_LOCK = threading.RLock()


@contextlib.contextmanager
def _patched_save(class_defaults: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Fix mat-io 1.0.2's writer for Deep Learning Toolbox objects, only while active.

    1. An object array nested in a struct (every network's ``Layers``) is first walked as
       a cell and fails (``'numpy.ndarray' object has no attribute 'properties'``):
       objects are serialized before the cell/struct branch (MATLAB_FORMAT.md §2).
    2. An object array is written with its last element's class and every element gets the
       array's saveobj flag: the array keeps its own class (``nnet.cnn.layer.Layer``) and
       each element is flagged by its own class.
    3. The class-defaults table is written empty: it is filled from ``class_defaults``.
    """
    subsystem = MatSubsystem
    originals = (
        subsystem.serialize_nested_props,
        subsystem.set_mcos_object_metadata,
        subsystem.set_fwrap_data,
    )

    def serialize_nested_props(self: MatSubsystem, value: Any) -> Any:
        if isinstance(value, (MatlabOpaque, MatlabOpaqueArray)):
            return self.set_object_metadata(value)
        return originals[0](self, value)

    def set_mcos_object_metadata(self: MatSubsystem, obj: Any) -> Any:
        if not isinstance(obj, MatlabOpaqueArray):
            return originals[1](self, obj)
        flagged = ((e, e.classname in self.saveobj_class_names) for e in obj.ravel(order="F"))
        ids = [self.set_object_id(element, saveobj)[0] for element, saveobj in flagged]
        return self.create_mcos_metadata(obj.shape, ids, self.set_class_id(obj.classname))

    def set_fwrap_data(self: MatSubsystem) -> Any:
        tables: dict[int, np.ndarray] = {}
        class_id = 1
        while class_id <= self.class_id_counter:  # a default (a string) may add a class
            defaults = class_defaults.get(self.get_classname(class_id))
            if defaults:
                tables[class_id] = _struct(
                    {k: self.serialize_nested_props(to_writeable(v)) for k, v in defaults.items()}
                )
            class_id += 1
        wrapper = originals[2](self)
        if wrapper is not None and tables:
            column = wrapper.properties[-1, 0].copy()  # shared with the unknown region before it
            for class_id, table in tables.items():
                column[class_id, 0] = table
            wrapper.properties[-1, 0] = column
        return wrapper

    with _SAVE_LOCK:
        subsystem.serialize_nested_props = serialize_nested_props  # type: ignore[method-assign]
        subsystem.set_mcos_object_metadata = set_mcos_object_metadata  # type: ignore[method-assign]
        subsystem.set_fwrap_data = set_fwrap_data  # type: ignore[method-assign]
        try:
            yield
        finally:
            (
                subsystem.serialize_nested_props,
                subsystem.set_mcos_object_metadata,
                subsystem.set_fwrap_data,
            ) = originals  # type: ignore[method-assign]


def write_mat(
    path: str | os.PathLike[str], variables: Mapping[str, Any], version: Literal["v7", "v7.3"] = "v7"
) -> None:
    """Save ``variables`` (name → builder result or any mat-io value) like MATLAB's ``save``.

    ``version`` 'v7' writes a Level-5 file (what every real DLT sample is); 'v7.3' HDF5.
    """
    class_defaults, saveobj_classes = _class_plan(variables)
    with _patched_save(class_defaults):
        save_to_mat(os.fspath(path), dict(variables), version=version, saveobj_classes=saveobj_classes)
