"""What every layer object shares: the object itself, its learnables, its field tables.

Built-in ``nnet.cnn.layer.*`` layers keep their ``saveobj`` struct in ``any``; which
fields that struct has, and in which order, depends on the class and on its saveobj
version, so the tables below list them once (seen in ``shared/corpus/dltoolbox`` or
inferred, as marked) and :func:`builtin_layer` projects a builder's fields onto them;
:func:`saveobj_layer` stores a class without a table as its builder gives it.
Layers written as ``nnet.layer.Layer`` subclasses keep plain properties instead
(:func:`custom_layer`). Each object also carries the class defaults MATLAB saves once per
class, because a reader sees them merged into the properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matio.utils.matclass import MatlabOpaque

from codegen.testing.dltwriter.values import cell, char, double, empty, single, struct

Layer = MatlabOpaque
NNET = "nnet.cnn.layer."
_INIT = "nnet.internal.cnn.layer.learnable.initializer."


class DltObject(MatlabOpaque):
    """A MATLAB object plus the defaults MATLAB saves once per class (not per object)."""

    def __init__(
        self,
        classname: str,
        properties: dict[str, Any],
        class_defaults: Mapping[str, Any],
    ):
        super().__init__(properties=properties, classname=classname)
        self.class_defaults = dict(class_defaults)


# ---------------------------------------------------------------- learnables


def initializer(kind: str, *arguments: tuple[float, ...] | str) -> np.ndarray:
    """The initializer record MATLAB keeps next to every learnable (R2021a and later)."""
    cells = [char(a) if isinstance(a, str) else double(a) for a in arguments]
    return struct(
        {
            "Version": double(1),
            "Class": char(_INIT + kind),
            "ConstructorArguments": cell(cells) if cells else empty(),
        }
    )


def glorot_conv() -> np.ndarray:
    """Glorot over the receptive field of a conv kernel FH×FW×Cin×Cout."""
    return initializer("Glorot", (1, 2, 3), (1, 2, 4))


def glorot_dense() -> np.ndarray:
    """Glorot over an Out×In matrix (FC, recurrent input weights, attention projections)."""
    return initializer("Glorot", (2,), (1,))


def learnable(
    value: Any, l2_factor: float, init: np.ndarray, shape: Sequence[int] | None = None
) -> np.ndarray:
    """{Version, Value, LearnRateFactor, L2Factor, Initializer}: the struct of every learnable;
    ``None`` is stored like an untrained layer's value (a 0×0 double)."""
    return struct(
        {
            "Version": double(2),
            "Value": empty() if value is None else single(value, shape),
            "LearnRateFactor": double(1),
            "L2Factor": double(l2_factor),
            "Initializer": init,
        }
    )


def old_learnable(
    value: Any, l2_factor: float, shape: Sequence[int] | None = None
) -> np.ndarray:
    """{Value, LearnRateFactor, L2Factor}: the learnable struct of releases before
    initializers were saved (seen in specsense_trainedNet.mat)."""
    return struct(
        {
            "Value": empty() if value is None else single(value, shape),
            "LearnRateFactor": double(1),
            "L2Factor": double(l2_factor),
        }
    )


def weight_learnable(value: Any, init: np.ndarray) -> np.ndarray:
    """A weight learnable: L2Factor 1, stored in the shape given."""
    return learnable(value, 1.0, init)


def bias_learnable(
    value: Any, shape: Sequence[int], init: np.ndarray | None = None
) -> np.ndarray:
    """A bias learnable: L2Factor 0, zeros initializer unless told, reshaped to ``shape``."""
    return learnable(value, 0.0, initializer("Zeros") if init is None else init, shape)


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
_PROJECTOR_SIZES = _fields("OutputProjectorSize InputProjectorSize")
_ATTENTION = _fields(
    "AttentionMask DropoutProbability HasPaddingMaskInput HasScoresOutput"
)
_WORDS = _fields("Version Name Dimension NumWords")

# `any` field order per class and saveobj version: "seen" versions are copied from the
# corpus, "inferred" ones follow the closest real class (see each builder's docstring).
_ANY_FIELDS: dict[str, dict[int, tuple[str, ...]]] = {
    "ImageInputLayer": {  # seen: 3, 4, 5
        3: _IMAGE_IN,
        4: _IMAGE_IN + _fields("NormalizationDimension"),
        5: _IMAGE_IN + _fields("NormalizationDimension SplitComplexInputs"),
    },
    "SequenceInputLayer": {
        3: _SEQ_IN,
        5: _SEQ_IN + _fields("MinLength SplitComplexInputs"),
    },  # seen
    "FeatureInputLayer": {2: _SEQ_IN + _fields("SplitComplexInputs")},  # seen
    "InputLayer": {1: _fields("Version Name InputSize InputFormat")},  # inferred
    "Convolution2DLayer": {  # seen: 5, 6, 8
        5: _CONV + _fields("Weights Bias"),
        6: _CONV + _fields("PaddingValue Weights Bias"),
        8: _CONV
        + _fields(
            "PaddingValue Weights Bias ConvolveOverTime DistributeOverTime ConvolutionDimIdx"
        )
        + _fields("CudnnGPUAlgoForward"),
    },
    "TransposedConvolution2DLayer": {  # seen: 2; inferred: 1 (see transposed_conv2d_v1)
        1: _fields(
            "Version Name FilterSize NumChannels NumFilters Stride Cropping Weights Bias"
        ),
        2: _fields(
            "Version Name FilterSize NumChannels NumFilters Stride CroppingMode CroppingSize"
        )
        + _fields("Weights Bias OutputSizeOffset"),
    },
    "GroupedConvolution2DLayer": {  # inferred
        1: _fields(
            "Version Name FilterSize NumChannelsPerGroup NumFiltersPerGroup NumGroups Stride"
        )
        + _fields("DilationFactor PaddingMode PaddingSize PaddingValue Weights Bias")
    },
    "FullyConnectedLayer": {
        3: _fields("Version Name InputSize OutputSize Weights Bias")
    },  # seen
    "BatchNormalizationLayer": {  # seen: 2, 3
        2: _BN + _fields("NumTrainingSamples Offset Scale"),
        3: _BN
        + _fields(
            "MeanDecay VarianceDecay IsMovingAverageMode NumTrainingSamples Offset Scale"
        ),
    },
    "LayerNormalizationLayer": {  # inferred
        1: _fields("Version Name Epsilon NumChannels OperationDimension Offset Scale")
    },
    "MaxPooling2DLayer": {  # seen: 2, 3
        2: _POOL + _fields("HasUnpoolingOutputs"),
        3: _POOL + _fields("HasUnpoolingOutputs") + _POOL_TIME,
    },
    "AveragePooling2DLayer": {
        3: _POOL + _fields("PaddingValue") + _POOL_TIME
    },  # inferred
    "GlobalAveragePooling2DLayer": {1: _NAME},  # inferred
    "GlobalMaxPooling2DLayer": {1: _NAME},  # inferred
    "MaxUnpooling2DLayer": {1: _NAME},  # inferred
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
    "RegressionOutputLayer": {
        2: _NAME + _fields("ResponseNames ObservationDim")
    },  # seen
    "AdditionLayer": {1: _NAME + _fields("NumInputs")},  # seen
    "DepthConcatenationLayer": {1: _NAME + _fields("NumInputs")},  # seen
    "ConcatenationLayer": {1: _NAME + _fields("Dim NumInputs")},  # inferred
    "MultiplicationLayer": {1: _NAME + _fields("NumInputs")},  # inferred
    "LSTMLayer": {4: _LSTM},  # seen
    "BiLSTMLayer": {3: _LSTM},  # inferred (MATLAB_FORMAT.md lists the same fields)
    "GRULayer": {  # inferred
        1: _RNN
        + _fields(
            "ResetGateMode InputWeights RecurrentWeights Bias HiddenState InitialHiddenState"
        )
    },
    # inferred: LSTMLayer's / GRULayer's fields plus the projector sizes and factors
    "LSTMProjectedLayer": {
        1: _RNN
        + _PROJECTOR_SIZES
        + _fields("InputWeights RecurrentWeights Bias InputProjector OutputProjector")
        + _fields("CellState HiddenState InitialCellState InitialHiddenState")
    },
    "GRUProjectedLayer": {
        1: _RNN
        + _PROJECTOR_SIZES
        + _fields(
            "ResetGateMode InputWeights RecurrentWeights Bias InputProjector OutputProjector"
        )
        + _fields("HiddenState InitialHiddenState")
    },
    "SelfAttentionLayer": {  # seen (tsx_transformer_demo.mat)
        1: _fields("Version Name InputSize NumKeyChannels NumValueChannels NumHeads")
        + _ATTENTION
        + _fields("OutputSize QueryWeights KeyWeights ValueWeights OutputWeights")
        + _fields("QueryBias KeyBias ValueBias OutputBias")
    },
    "AttentionLayer": {1: _NAME + _fields("NumHeads Scale") + _ATTENTION},  # inferred
    "PositionEmbeddingLayer": {  # seen (tsx_transformer_demo.mat)
        1: _fields(
            "Version Name OutputSize MaxPosition PositionDimension Weights WeightsInitializer"
        )
        + _fields("WeightLearnRateFactor WeightL2Factor PositionStrategy")
    },
    "EmbeddingConcatenationLayer": {  # inferred: PositionEmbeddingLayer's pattern
        1: _fields(
            "Version Name Weights WeightsInitializer WeightLearnRateFactor WeightL2Factor"
        )
    },
    "WordEmbeddingLayer": {  # inferred: OOVMode came with R2023b
        1: _WORDS + _fields("Weights"),
        2: _WORDS + _fields("OOVMode Weights"),
    },
}

LAYER_DEFAULTS: Mapping[str, Any] = {"Version": double(1)}
# nnet.layer.Layer subclasses (ELULayer, PositionEmbeddingLayer, custom layers) share these.
CUSTOM_LAYER_DEFAULTS: Mapping[str, Any] = {
    "Name": char(""),
    "Description": char(""),
    "Type": char(""),
    "nnet.layer.Layer.PrivateInputs": cell([char("in")]),
    "nnet.layer.Layer.PrivateOutputs": cell([char("out")]),
    "Version": double(1),
}


def builtin_layer(
    cls: str,
    fields: Mapping[str, Any],
    version: int | None = None,
    defaults: Mapping[str, Any] = LAYER_DEFAULTS,
) -> Layer:
    """A built-in layer: its saveobj struct in ``any``, projected on one schema version
    (the newest unless ``version`` says otherwise); a field the schema lacks is dropped,
    a field the builder forgot is an error."""
    versions = _ANY_FIELDS[cls]
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise ValueError(
            f"{cls} schema version {version} is unknown; known versions: {sorted(versions)}"
        )
    values = {"Version": double(chosen), **fields}
    names = versions[chosen]
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(
            f"{cls} v{chosen} needs fields the builder did not set: {missing}"
        )
    return DltObject(
        NNET + cls, {"any": struct({name: values[name] for name in names})}, defaults
    )


def saveobj_layer(
    cls: str,
    fields: Mapping[str, Any],
    *,
    version: int = 1,
    defaults: Mapping[str, Any] = LAYER_DEFAULTS,
) -> Layer:
    """A built-in layer whose saveobj struct (``any``) is Version followed by ``fields``."""
    record = struct({"Version": double(version), **fields})
    return DltObject(NNET + cls, {"any": record}, defaults)


def custom_layer(
    cls: str,
    own: Mapping[str, Any],
    name: str,
    description: str,
    kind: str,
    *,
    private: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] = CUSTOM_LAYER_DEFAULTS,
) -> Layer:
    """An ``nnet.layer.Layer`` subclass saved with plain properties, in MATLAB's order: the
    class's ``own`` properties, the Layer base (Name, Description, Type), the Learnable
    mixin (empty), then ``private`` state. Seen in eeg_eegNet.mat (ELULayer) and
    tsx_transformer_demo.mat (Indexing1DLayer)."""
    mixin = "nnet.cnn.layer.mixin.Learnable."
    properties = {
        **own,
        "Name": char(name),
        "Description": char(description),
        "Type": char(kind),
        mixin + "LearnRateFactor": empty(),
        mixin + "L2Factor": empty(),
        mixin + "LearnablesTypes": empty(),
        **(private or {}),
    }
    return DltObject(NNET + cls, properties, defaults)


def with_fields(layer: Layer, **fields: Any) -> Layer:
    """The built-in ``layer`` with extra (or replaced) fields in its ``any`` struct, in order:
    for tests of fields no builder sets (HasStateInputs, an unknown activation, ...)."""
    record = layer.properties["any"]
    values = {name: record[name][0, 0] for name in record.dtype.names}
    values.update(fields)
    layer.properties["any"] = struct(values)
    return layer
