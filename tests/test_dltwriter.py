"""The test writer must produce files a reader cannot tell from MATLAB's own.

Each real network is rebuilt from its decoded fields through the writer's public builders
(dispatched by layer class, never by file), written, reloaded and compared field by field
with the original: class names, field names and order, dtypes, shapes and exact values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest
from matio import load_from_mat
from matio.subsystem.subsys import MatSubsystem
from matio.utils.matclass import MatlabContainerMap, MatlabOpaque, MatlabOpaqueArray

from codegen.readers.matio_fix import patched_load
from codegen.testing import dltwriter as dw

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DLT = CORPUS / "dltoolbox"
needs_corpus = pytest.mark.skipif(
    not DLT.is_dir(), reason=f"the MATLAB corpus folder {DLT} is missing"
)

# Fields the writer deliberately does not reproduce: field name -> (aspect skipped, why).
NOT_REPRODUCED: dict[str, tuple[str, str]] = {
    "NumTrainingSamples": (
        "value",
        (
            "how many samples trainNetwork averaged over; inference never reads it, and the writer "
            "stores 0 (as dlnetwork and untrained files do)"
        ),
    ),
    "LearnRateFactor": (
        "dtype",
        (
            "trainnet (fuma28, 2024) saves training factors as single; the writer always writes "
            "MATLAB's double defaults"
        ),
    ),
    "L2Factor": ("dtype", "same as LearnRateFactor"),
}


def load(path: Path, variables: list[str] | None = None) -> dict[str, Any]:
    with patched_load():
        return load_from_mat(str(path), variable_names=variables)


# ---------------------------------------------------------------- tree comparison


def _fail(path: str, what: str, expected: Any, actual: Any) -> NoReturn:
    raise AssertionError(
        f"{path or '<root>'}: {what} differs: expected {expected!r}, got {actual!r}"
    )


def _skipped(path: str, aspect: str) -> bool:
    field = path.rsplit(".", 1)[-1]
    return NOT_REPRODUCED.get(field, ("", ""))[0] == aspect


def _describe_difference(expected: np.ndarray, actual: np.ndarray) -> tuple[Any, Any]:
    """Small arrays whole; large ones by their first differing element."""
    if expected.size <= 8:
        return expected.tolist(), actual.tolist()
    index = tuple(int(i) for i in np.argwhere(expected != actual)[0])
    return f"{expected[index]!r} at {index}", f"{actual[index]!r}"


def _compare_array(
    expected: np.ndarray, actual: Any, path: str, seen: set[int]
) -> None:
    if type(actual) is not type(expected):
        _fail(path, "type", type(expected).__name__, type(actual).__name__)
    if expected.dtype.names != actual.dtype.names:
        _fail(path, "struct field names", expected.dtype.names, actual.dtype.names)
    if expected.dtype != actual.dtype and not _skipped(path, "dtype"):
        _fail(path, "dtype", expected.dtype, actual.dtype)
    if expected.shape != actual.shape:
        _fail(path, "shape", expected.shape, actual.shape)
    if expected.dtype.names:
        for index, (e, a) in enumerate(zip(expected.flat, actual.flat, strict=True)):
            where = f"{path}({index})" if expected.size > 1 else path
            for name in expected.dtype.names:
                _compare(e[name], a[name], f"{where}.{name}", seen)
    elif expected.dtype.kind == "O":
        for index, (e, a) in enumerate(zip(expected.flat, actual.flat, strict=True)):
            _compare(e, a, f"{path}{{{index}}}", seen)
    elif not _skipped(path, "value"):
        if expected.dtype.kind in "TUS":
            same = expected.tolist() == actual.tolist()
        else:
            same = np.array_equal(expected, actual, equal_nan=True)
        if not same:
            _fail(path, "value", *_describe_difference(expected, actual))


def _compare_object(
    expected: MatlabOpaque, actual: Any, path: str, seen: set[int]
) -> None:
    if not isinstance(actual, MatlabOpaque):
        _fail(path, "type", "MATLAB object", type(actual).__name__)
    if expected.classname != actual.classname:
        _fail(path, "class", expected.classname, actual.classname)
    if id(expected) in seen:  # cyclic or shared objects: compare once
        return
    seen.add(id(expected))
    if list(expected.properties) != list(actual.properties):
        _fail(
            path, "property names", list(expected.properties), list(actual.properties)
        )
    for name, value in expected.properties.items():
        _compare(value, actual.properties[name], f"{path}.{name}", seen)


def _compare_table(
    expected: pd.DataFrame, actual: Any, path: str, seen: set[int]
) -> None:
    if not isinstance(actual, pd.DataFrame):
        _fail(path, "type", "table", type(actual).__name__)
    if list(expected.columns) != list(actual.columns) or expected.shape != actual.shape:
        _fail(
            path,
            "table layout",
            (list(expected.columns), expected.shape),
            (list(actual.columns), actual.shape),
        )
    if not expected.index.equals(actual.index):
        _fail(path, "row names", list(expected.index), list(actual.index))
    for column in expected.columns:
        for row, (e, a) in enumerate(
            zip(expected[column], actual[column], strict=True)
        ):
            _compare(e, a, f"{path}.{column}{{{row}}}", seen)


def _compare_categorical(expected: pd.Categorical, actual: Any, path: str) -> None:
    if not isinstance(actual, pd.Categorical):
        _fail(path, "type", "categorical", type(actual).__name__)
    if list(expected.categories) != list(actual.categories):
        _fail(path, "categories", list(expected.categories), list(actual.categories))
    if (
        expected.categories.dtype != actual.categories.dtype
        or expected.ordered != actual.ordered
    ):
        _fail(
            path,
            "categorical kind",
            (expected.categories.dtype, expected.ordered),
            (actual.categories.dtype, actual.ordered),
        )
    _compare_array(
        np.asarray(expected.codes), np.asarray(actual.codes), f"{path}.codes", set()
    )


def _compare(expected: Any, actual: Any, path: str, seen: set[int]) -> None:
    if isinstance(expected, MatlabOpaque):
        _compare_object(expected, actual, path, seen)
    elif isinstance(expected, MatlabOpaqueArray):
        if not isinstance(actual, MatlabOpaqueArray):
            _fail(path, "type", "object array", type(actual).__name__)
        if (expected.classname, expected.shape) != (actual.classname, actual.shape):
            _fail(
                path,
                "object array",
                (expected.classname, expected.shape),
                (actual.classname, actual.shape),
            )
        for index, (e, a) in enumerate(
            zip(expected.ravel(order="F"), actual.ravel(order="F"), strict=True)
        ):
            _compare(e, a, f"{path}[{index}:{e.classname.rsplit('.', 1)[-1]}]", seen)
    elif isinstance(expected, pd.DataFrame):
        _compare_table(expected, actual, path, seen)
    elif isinstance(expected, pd.Categorical):
        _compare_categorical(expected, actual, path)
    elif isinstance(expected, MatlabContainerMap):
        if not isinstance(actual, MatlabContainerMap) or list(expected) != list(actual):
            _fail(path, "containers.Map", dict(expected), actual)
        for key in expected:
            _compare(expected[key], actual[key], f"{path}({key!r})", seen)
    elif isinstance(expected, np.ndarray):
        _compare_array(expected, actual, path, seen)
    elif expected != actual:
        _fail(path, "value", expected, actual)


def assert_same_tree(expected: Any, actual: Any, path: str) -> None:
    """Fail with the path of the first field where two decoded MATLAB values differ."""
    _compare(expected, actual, path, set())


# ---------------------------------------------------------------- rebuilding real networks
# Each function reads a real layer's fields (`any`, or the plain properties of
# nnet.layer.Layer subclasses) and calls the matching public builder.


def _text(a: np.void | Mapping[str, Any], field: str, default: str = "") -> str:
    names = a.dtype.names if isinstance(a, np.void) else tuple(a)
    return str(a[field].item()) if field in names and a[field].size else default


def _row(a: np.void, field: str) -> tuple[float, ...] | None:
    value = a[field]
    return None if value.size == 0 else tuple(float(x) for x in value.ravel(order="F"))


def _scalar(a: np.void, field: str) -> float | None:
    return None if a[field].size == 0 else float(a[field].item())


def _count(a: np.void, field: str) -> int | None:
    value = _scalar(a, field)
    return None if value is None else int(value)


def _flag(a: np.void, field: str, default: bool = False) -> bool:
    return bool(a[field].item()) if field in a.dtype.names else default


def _value(a: np.void, field: str) -> np.ndarray | None:
    """A learnable's Value (or a plain array), None when stored untrained (0×0)."""
    value = a[field]
    if value.dtype.names:
        value = value[0, 0]["Value"]
    return None if value.size == 0 else value


def _learned(a: np.void, *fields: str) -> list[Any]:
    """The layer's name followed by the values of its learnables, in builder order."""
    return [_text(a, "Name"), *(_value(a, field) for field in fields)]


def _version(a: np.void) -> int:
    return int(a["Version"].item())


def _normalization(a: np.void) -> dict[str, Any]:
    norm = a["Normalization"]
    if not norm.dtype.names:
        return {"normalization": "none"}
    record = norm[0, 0]
    keys = {
        "AverageImage": "mean",
        "Mean": "mean",
        "Std": "std",
        "Min": "min",
        "Max": "max",
    }
    stats = {keys[k]: _value(record, k) for k in record.dtype.names if k in keys}
    return {"normalization": str(record["Type"].item()), **stats}


def _input_options(a: np.void, default_dimension: str) -> dict[str, Any]:
    """Name, size, normalization and its dimension: what every input layer stores."""
    return {
        "name": _text(a, "Name"),
        "input_size": _row(a, "InputSize") or (),
        **_normalization(a),
        "normalization_dimension": _text(
            a, "NormalizationDimension", default_dimension
        ),
    }


def _image_input(a: np.void) -> MatlabOpaque:
    return dw.image_input(
        **_input_options(a, "auto"),
        split_complex_inputs=_flag(a, "SplitComplexInputs"),
        version=_version(a),
    )


def _sequence_input(a: np.void) -> MatlabOpaque:
    min_length = _count(a, "MinLength") if "MinLength" in a.dtype.names else 1
    return dw.sequence_input(
        **_input_options(a, ""),
        min_length=min_length or 1,
        split_complex_inputs=_flag(a, "SplitComplexInputs"),
        version=_version(a),
    )


def _feature_input(a: np.void) -> MatlabOpaque:
    return dw.feature_input(
        **{**_input_options(a, ""), "input_size": _count(a, "InputSize") or 0}
    )


def _kernel(a: np.void) -> dict[str, Any]:
    """The kernel settings plain and transposed convolutions share."""
    return {
        "filter_size": tuple(int(x) for x in _row(a, "FilterSize") or ()),
        "num_filters": _count(a, "NumFilters"),
        "stride": _row(a, "Stride") or (1, 1),
    }


def _conv(a: np.void) -> MatlabOpaque:
    return dw.conv2d(
        *_learned(a, "Weights", "Bias"),
        **_kernel(a),
        dilation=_row(a, "DilationFactor") or (1, 1),
        padding_mode=_text(a, "PaddingMode"),
        padding=_row(a, "PaddingSize"),
        padding_value=(
            _scalar(a, "PaddingValue") if "PaddingValue" in a.dtype.names else 0
        ),
        version=_version(a),
    )


def _transposed_conv(a: np.void) -> MatlabOpaque:
    return dw.transposed_conv2d(
        *_learned(a, "Weights", "Bias"),
        **_kernel(a),
        cropping_mode=_text(a, "CroppingMode"),
        cropping=_row(a, "CroppingSize"),
        output_size_offset=_row(a, "OutputSizeOffset"),
    )


def _batchnorm(a: np.void) -> MatlabOpaque:
    decays = {
        k: _scalar(a, f)
        for k, f in (("mean_decay", "MeanDecay"), ("variance_decay", "VarianceDecay"))
        if f in a.dtype.names
    }
    return dw.batchnorm(
        *_learned(a, "TrainedMean", "TrainedVariance", "Offset", "Scale"),
        _scalar(a, "Epsilon") or 0.0,
        channel_dim=_count(a, "ChannelDim"),
        version=_version(a),
        **decays,
    )


def _fully_connected(a: np.void) -> MatlabOpaque:
    # InputSize/OutputSize depend on how the network was assembled (trainNetwork vs dlnetwork).
    sizes = {
        "output_size": _row(a, "OutputSize") or (),
        "input_size": _row(a, "InputSize"),
    }
    return dw.fully_connected(*_learned(a, "Weights", "Bias"), **sizes)


def _max_pool(a: np.void) -> MatlabOpaque:
    initialized = "PoolOverTime" not in a.dtype.names or a["PoolOverTime"].size > 0
    return dw.max_pool2d(
        _text(a, "Name"),
        _row(a, "PoolSize") or (),
        stride=_row(a, "Stride") or (1, 1),
        padding_mode=_text(a, "PaddingMode"),
        padding=_row(a, "PaddingSize"),
        initialized=initialized,
        version=_version(a),
    )


def _lstm(a: np.void) -> MatlabOpaque:
    return dw.lstm(
        *_learned(a, "InputWeights", "RecurrentWeights", "Bias"),
        num_hidden_units=_count(a, "NumHiddenUnits"),
        output_mode="sequence" if _flag(a, "ReturnSequence") else "last",
        state_activation=_text(a, "StateActivationFunction"),
        gate_activation=_text(a, "GateActivationFunction"),
        hidden_state=_value(a["HiddenState"][0, 0], "Value"),
        cell_state=_value(a["CellState"][0, 0], "Value"),
    )


def _self_attention(a: np.void) -> MatlabOpaque:
    parts = [
        f"{part}{kind}"
        for part in ("Query", "Key", "Value", "Output")
        for kind in ("Weights", "Bias")
    ]
    return dw.self_attention(
        _text(a, "Name"),
        {part: _value(a, part) for part in parts},
        _count(a, "NumHeads") or 1,
        _text(a, "AttentionMask"),
        _flag(a, "HasPaddingMaskInput"),
        dropout_probability=_scalar(a, "DropoutProbability") or 0.0,
        has_scores_output=_flag(a, "HasScoresOutput"),
    )


def _position_embedding(a: np.void) -> MatlabOpaque:
    return dw.position_embedding(
        *_learned(a, "Weights"), weights_initializer=_text(a, "WeightsInitializer")
    )


def _resize2d(a: np.void) -> MatlabOpaque:
    return dw.resize2d(
        _text(a, "Name"),
        scale=_row(a, "Scale"),
        output_size=_row(a, "OutputSize"),
        enable_reference_input=_flag(a, "EnableReferenceInput"),
        method=_text(a, "Method"),
        geometric_transform_mode=_text(a, "GeometricTransformMode"),
        nearest_rounding_mode=_text(a, "NearestRoundingMode"),
    )


def _classification(a: np.void) -> MatlabOpaque:
    classes = [str(c) for c in a["Categories"].categories]
    weights = _row(a, "ClassWeights") if "ClassWeights" in a.dtype.names else None
    return dw.classification_output(
        _text(a, "Name"),
        classes or None,
        class_weights=weights,
        observation_dim=_count(a, "ObservationDim"),
        version=_version(a),
    )


def _regression(a: np.void) -> MatlabOpaque:
    names = [str(n.item()) for n in a["ResponseNames"].ravel(order="F")]
    return dw.regression_output(
        _text(a, "Name"), names or None, observation_dim=_count(a, "ObservationDim")
    )


REBUILD: dict[str, Callable[[np.void], MatlabOpaque]] = {
    "ImageInputLayer": _image_input,
    "SequenceInputLayer": _sequence_input,
    "FeatureInputLayer": _feature_input,
    "Convolution2DLayer": _conv,
    "TransposedConvolution2DLayer": _transposed_conv,
    "BatchNormalizationLayer": _batchnorm,
    "FullyConnectedLayer": _fully_connected,
    "MaxPooling2DLayer": _max_pool,
    "LSTMLayer": _lstm,
    "SelfAttentionLayer": _self_attention,
    "PositionEmbeddingLayer": _position_embedding,
    "ReLULayer": lambda a: dw.relu(_text(a, "Name")),
    "LeakyReLULayer": lambda a: dw.leaky_relu(
        _text(a, "Name"), _scalar(a, "Scale") or 0.0
    ),
    "DropoutLayer": lambda a: dw.dropout(
        _text(a, "Name"), _scalar(a, "Probability") or 0.0
    ),
    "FlattenLayer": lambda a: dw.flatten(
        _text(a, "Name"), _count(a, "NumFlattenDimensions") or 0
    ),
    "SoftmaxLayer": lambda a: dw.softmax(
        _text(a, "Name"),
        channel_dim=_count(a, "ChannelDim"),
        vector_format=_flag(a, "VectorFormat"),
        version=_version(a),
    ),
    "AdditionLayer": lambda a: dw.addition(
        _text(a, "Name"), _count(a, "NumInputs") or 2
    ),
    "DepthConcatenationLayer": lambda a: dw.depth_concatenation(
        _text(a, "Name"), _count(a, "NumInputs") or 2
    ),
    "Resize2DLayer": _resize2d,
    "ClassificationOutputLayer": _classification,
    "RegressionOutputLayer": _regression,
}


def _indexing1d(p: Mapping[str, Any]) -> MatlabOpaque:
    index = p["Index"]  # a MATLAB string ('last'), or a double time step
    value = str(index.item()) if index.dtype.kind in "TU" else int(index.item())
    return dw.indexing1d(_text(p, "Name"), value, bool(p["HasPaddingMaskInput"].item()))


# nnet.layer.Layer subclasses keep plain properties (the reader merges in class defaults).
REBUILD_PLAIN: dict[str, Callable[[Mapping[str, Any]], MatlabOpaque]] = {
    "ELULayer": lambda p: dw.elu(_text(p, "Name"), float(p["Alpha"].item())),
    "Indexing1DLayer": _indexing1d,
}


def rebuild_layer(layer: MatlabOpaque) -> MatlabOpaque:
    short = layer.classname.rsplit(".", 1)[-1]
    if short in REBUILD_PLAIN:
        return REBUILD_PLAIN[short](layer.properties)
    if short not in REBUILD:
        raise NotImplementedError(f"the test has no rebuild rule for {layer.classname}")
    return REBUILD[short](layer.properties["any"][0, 0])


def _layers(record: np.void) -> list[MatlabOpaque]:
    return [rebuild_layer(layer) for layer in record["Layers"].ravel(order="F")]


def _edges(record: np.void) -> list[tuple[str, str]]:
    table = record["Connections"]
    return [
        (str(s.item()), str(d.item()))
        for s, d in zip(table["Source"], table["Destination"], strict=True)
    ]


def rebuild_network(net: MatlabOpaque) -> MatlabOpaque:
    record = net.properties["any"][0, 0]
    if net.classname == "SeriesNetwork":
        return dw.series_network(_layers(record))
    if net.classname == "DAGNetwork":
        return dw.dag_network(_layers(record), _edges(record))
    if net.classname == "nnet.cnn.LayerGraph":
        return dw.layer_graph(_layers(record), _edges(record))
    if net.classname == "dlnetwork":
        graph = record["LayerGraph"].properties["any"][0, 0]
        return dw.dlnetwork(_layers(graph), _edges(graph), version=_version(record))  # type: ignore[arg-type]
    raise NotImplementedError(f"the test has no rebuild rule for {net.classname}")


# ---------------------------------------------------------------- tests

REAL_NETWORKS: Mapping[str, list[str]] = {
    "ccn_net.mat": ["net"],
    "yusuf_trainedNetwork_1.mat": ["trainedNetwork_1"],
    "faultdet_TrainedModel.mat": ["airCompNet"],
    "arfrns_TrainedNet.mat": ["Net"],
    "fuma28_trainedNet.mat": ["trainedNet"],
    "resunet_net.mat": ["lgraph"],
    "korniarp_lgraph.mat": ["lgraph", "lgraph_1", "mygraph"],
    # Beyond the required set: sequence regression and a 2022b image classifier (ClassWeights).
    "ibpinn_net.mat": ["net"],
    "vikas_net.mat": ["net"],
    # Transformer pieces: self-attention, position embedding (saveobj + nested object), and
    # Indexing1D (plain properties, a MATLAB string Index).
    "tsx_transformer_demo.mat": ["net"],
}


@needs_corpus
@pytest.mark.parametrize("version", ["v7", "v7.3"])
@pytest.mark.parametrize("filename", sorted(REAL_NETWORKS))
def test_rebuilt_real_network_matches_matlab_file(
    filename: str, version: str, tmp_path: Path
) -> None:
    names = REAL_NETWORKS[filename]
    real = load(DLT / filename, names)
    rebuilt = {name: rebuild_network(real[name]) for name in names}
    out = tmp_path / filename
    dw.write_mat(out, rebuilt, version=version)  # type: ignore[arg-type]
    reloaded = load(out)
    assert sorted(reloaded) == sorted(names)
    for name in names:
        assert_same_tree(real[name], reloaded[name], name)


def test_trailing_singleton_dimensions_are_dropped(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    conv_weights = rng.standard_normal((3, 3, 64, 1)).astype(np.float32)
    fc_weights = rng.standard_normal((1, 1, 64, 1)).astype(np.float32)
    layers = [
        dw.image_input("input", (1, 1, 64), normalization="none"),
        dw.conv2d(
            "conv",
            conv_weights,
            np.array([0.5]),
            padding_mode="same",
            padding=(1, 1, 1, 1),
        ),
        dw.fully_connected("fc", fc_weights, np.array([0.25])),
        dw.regression_output("out"),
    ]
    dw.write_mat(tmp_path / "single.mat", {"net": dw.series_network(layers)})
    stored = (
        load(tmp_path / "single.mat")["net"]
        .properties["any"][0, 0]["Layers"]
        .ravel(order="F")
    )
    conv, fc = (stored[i].properties["any"][0, 0] for i in (1, 2))
    assert conv["Weights"][0, 0]["Value"].shape == (3, 3, 64)
    assert conv["Bias"][0, 0]["Value"].shape == (1, 1)
    assert conv["NumFilters"].item() == 1
    assert fc["Weights"][0, 0]["Value"].shape == (1, 1, 64)
    assert fc["Bias"][0, 0]["Value"].shape == (1, 1)
    np.testing.assert_array_equal(conv["Weights"][0, 0]["Value"], conv_weights[..., 0])
    np.testing.assert_array_equal(fc["Weights"][0, 0]["Value"], fc_weights[..., 0])


@needs_corpus
def test_derived_sizes_match_a_real_one_output_fc(tmp_path: Path) -> None:
    """Built with defaults only, yusuf's last FC (one output) equals MATLAB's record."""
    real = load(DLT / "yusuf_trainedNetwork_1.mat")["trainedNetwork_1"].properties[
        "any"
    ][0, 0]["Layers"]
    real_fc = real.ravel(order="F")[5]
    record = real_fc.properties["any"][0, 0]
    weights = record["Weights"][0, 0]["Value"].reshape(1, 1, 64, 1)
    built = dw.fully_connected("fc_1", weights, record["Bias"][0, 0]["Value"])
    dw.write_mat(tmp_path / "fc.mat", {"layer": built})
    assert_same_tree(real_fc, load(tmp_path / "fc.mat")["layer"], "fc_1")


@needs_corpus
@pytest.mark.parametrize("version", ["v7", "v7.3"])
def test_rebuilt_real_resize_layer_matches_matlab_file(
    version: str, tmp_path: Path
) -> None:
    """pac48's dlnetwork also holds FunctionLayers (never rebuilt: their code is text), so
    its Resize2DLayer (saveobj ``any`` plus the Layer base's class defaults) is compared alone.
    """
    net = load(DLT / "pac48_imagecontrolBC_dlnet.mat", ["dlnet"])["dlnet"]
    graph = net.properties["any"][0, 0]["LayerGraph"].properties["any"][0, 0]
    (real,) = [
        layer
        for layer in graph["Layers"].ravel(order="F")
        if layer.classname == "nnet.cnn.layer.Resize2DLayer"
    ]
    dw.write_mat(tmp_path / "resize.mat", {"layer": rebuild_layer(real)}, version=version)  # type: ignore[arg-type]
    assert_same_tree(real, load(tmp_path / "resize.mat")["layer"], "layer_1")


def test_v73_round_trip_of_a_small_series_network(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    weights = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    layers = [
        dw.image_input("input", (8, 8, 1), mean=np.float32([[0.5]])),
        dw.conv2d(
            "conv",
            weights,
            rng.standard_normal(4),
            padding_mode="same",
            padding=(1, 1, 1, 1),
        ),
        dw.batchnorm(
            "bn", rng.random(4), rng.random(4) + 0.5, rng.random(4), rng.random(4)
        ),
        dw.relu("relu"),
        dw.max_pool2d("pool", (2, 2), stride=(2, 2)),
        dw.fully_connected("fc", rng.standard_normal((4, 4, 4, 2))),
        dw.softmax("softmax"),
        dw.classification_output("classoutput", ["cat", "dog"]),
    ]
    net = dw.series_network(layers)
    dw.write_mat(tmp_path / "net73.mat", {"net": net}, version="v7.3")
    dw.write_mat(tmp_path / "net7.mat", {"net": net}, version="v7")
    header = (tmp_path / "net73.mat").read_bytes()[512:516]
    assert header == b"\x89HDF"  # v7.3 is HDF5 after a 512-byte header
    v73, v7 = load(tmp_path / "net73.mat")["net"], load(tmp_path / "net7.mat")["net"]
    assert_same_tree(v7, v73, "net")
    stored = v73.properties["any"][0, 0]["Layers"].ravel(order="F")
    assert [layer.classname.rsplit(".", 1)[-1] for layer in stored] == [
        "ImageInputLayer",
        "Convolution2DLayer",
        "BatchNormalizationLayer",
        "ReLULayer",
        "MaxPooling2DLayer",
        "FullyConnectedLayer",
        "SoftmaxLayer",
        "ClassificationOutputLayer",
    ]
    np.testing.assert_array_equal(
        stored[1].properties["any"][0, 0]["Weights"][0, 0]["Value"], weights
    )
    assert list(stored[-1].properties["any"][0, 0]["Categories"].categories) == [
        "cat",
        "dog",
    ]


def test_inferred_layers_write_and_reload(tmp_path: Path) -> None:
    """Classes no real sample covers still round-trip with their own class and fields."""
    rng = np.random.default_rng(3)
    layers = [
        dw.image_input(
            "input",
            (8, 8, 4),
            "zscore",
            mean=rng.random((1, 1, 4)),
            std=rng.random((1, 1, 4)),
        ),
        dw.grouped_conv2d("gconv", rng.standard_normal((3, 3, 2, 3, 2))),
        dw.clipped_relu("clip", 6.0),
        dw.avg_pool2d("avg", (2, 2), stride=(2, 2)),
        dw.layer_norm("ln", rng.random(6), rng.random(6)),
        dw.gelu("gelu", "tanh"),
        dw.global_avg_pool2d("gap"),
        dw.concatenation("cat", 3, 2),
        dw.global_max_pool2d("gmp"),
        dw.multiplication("mul"),
        dw.swish("swish"),
        dw.tanh_layer("tanh"),
        dw.sigmoid_layer("sigmoid"),
    ]
    chain = ["input", "gconv", "clip", "avg", "ln", "gelu", "gap"]
    edges = list(itertools.pairwise(chain))
    edges += [
        ("gap", "cat/in1"),
        ("gelu", "gmp"),
        ("gmp", "cat/in2"),
        ("cat", "mul/in1"),
        ("cat", "swish"),
    ]
    edges += [("swish", "mul/in2"), ("mul", "tanh"), ("tanh", "sigmoid")]
    seq = [
        dw.sequence_input("seq", 5),
        dw.gru(
            "gru",
            rng.standard_normal((12, 5)),
            rng.standard_normal((12, 4)),
            rng.standard_normal(12),
        ),
        dw.bilstm(
            "bilstm",
            rng.standard_normal((24, 4)),
            rng.standard_normal((24, 3)),
            output_mode="last",
        ),
        dw.fully_connected("fc", rng.standard_normal((2, 6))),
    ]
    variables = {
        "dag": dw.dag_network(layers, edges),
        "seq": dw.dlnetwork(seq, [("seq", "gru"), ("gru", "bilstm"), ("bilstm", "fc")]),
    }
    dw.write_mat(tmp_path / "inferred.mat", variables)
    reloaded = load(tmp_path / "inferred.mat")
    stored = reloaded["dag"].properties["any"][0, 0]["Layers"].ravel(order="F")
    assert [layer.classname for layer in stored] == [
        layer.classname for layer in layers
    ]
    for built, read in zip(layers, stored, strict=True):
        assert list(read.properties) == ["Version", "any"]
        assert read.properties["any"].dtype.names == built.properties["any"].dtype.names
    graph = (
        reloaded["seq"].properties["any"][0, 0]["LayerGraph"].properties["any"][0, 0]
    )
    bilstm = graph["Layers"].ravel(order="F")[2].properties["any"][0, 0]
    assert bilstm["Bias"][0, 0]["Value"].shape == (24, 1)
    assert bilstm["HiddenState"][0, 0]["Value"].shape == (6, 1)
    assert [
        str(n.item())
        for n in reloaded["seq"].properties["any"][0, 0]["OutputNames"].ravel()
    ] == ["fc"]


def test_writer_fix_is_only_active_while_writing(tmp_path: Path) -> None:
    def methods() -> tuple[Any, ...]:
        return (
            MatSubsystem.serialize_nested_props,
            MatSubsystem.set_mcos_object_metadata,
            MatSubsystem.set_fwrap_data,
        )

    before = methods()
    net = dw.series_network(
        [dw.image_input("input", (4, 4, 1), "none"), dw.relu("relu")]
    )
    dw.write_mat(tmp_path / "ok.mat", {"net": net})
    assert methods() == before
    with pytest.raises(Exception, match="v9"):
        dw.write_mat(tmp_path / "bad.mat", {"net": net}, version="v9")  # type: ignore[arg-type]
    assert methods() == before
