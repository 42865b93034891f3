"""Output layers (classification, regression) and merge layers (addition, concatenation,
multiplication): the layers that end a network or join its branches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from codegen.testing.dltwriter.schema import (
    LAYER_DEFAULTS,
    DltObject,
    Layer,
    builtin_layer,
)
from codegen.testing.dltwriter.values import (
    categorical,
    cell,
    char,
    double,
    logical,
    struct,
)


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
        "Name": char(name),
        "ObservationDim": double(observation_dim),
        "NumClasses": double(
            len(classes) if classes is not None and len(classes) else None
        ),
        "Categories": categorical(classes),
        "ClassWeights": double(class_weights),
    }
    defaults = {"LossFunction": char("crossentropyex"), **LAYER_DEFAULTS}
    return builtin_layer("ClassificationOutputLayer", fields, version, defaults)


def regression_output(
    name: str,
    response_names: Sequence[str] | None = ("Response",),
    *,
    observation_dim: int | None = 4,
) -> Layer:
    """RegressionOutputLayer v2. Untrained graphs store ``response_names=None`` and
    ``observation_dim=None`` ([]); several names are stored as a 1×N cell (inferred)."""
    names = np.empty((0, 0), dtype=object)
    if response_names is not None and len(response_names) > 0:
        names = cell([char(str(n)) for n in response_names])
    fields = {
        "Name": char(name),
        "ResponseNames": names,
        "ObservationDim": double(observation_dim),
    }
    defaults = {"LossFunction": char("mean-squared-error"), **LAYER_DEFAULTS}
    return builtin_layer("RegressionOutputLayer", fields, None, defaults)


def _merge(cls: str, name: str, num_inputs: int, **settings: float) -> Layer:
    """A merge layer: its name, its settings (doubles) and how many inputs it takes."""
    fields = {"Name": char(name), **{k: double(v) for k, v in settings.items()}}
    return builtin_layer(cls, {**fields, "NumInputs": double(num_inputs)})


def addition(name: str, num_inputs: int = 2) -> Layer:
    """AdditionLayer v1 (inputs 'in1'..'inN')."""
    return _merge("AdditionLayer", name, num_inputs)


def depth_concatenation(name: str, num_inputs: int = 2) -> Layer:
    """DepthConcatenationLayer v1."""
    return _merge("DepthConcatenationLayer", name, num_inputs)


def concatenation(name: str, dim: int, num_inputs: int = 2) -> Layer:
    """ConcatenationLayer — schema inferred, no real sample (DepthConcatenationLayer plus Dim)."""
    return _merge("ConcatenationLayer", name, num_inputs, Dim=dim)


def multiplication(name: str, num_inputs: int = 2) -> Layer:
    """MultiplicationLayer — schema inferred, no real sample (AdditionLayer's pattern)."""
    return _merge("MultiplicationLayer", name, num_inputs)


def user_output_layer(
    classname: str,
    name: str,
    *,
    response_names: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    own: Mapping[str, Any] | None = None,
    description: str = "",
) -> Layer:
    """A user-defined output layer: a subclass of nnet.layer.RegressionLayer (give
    ``response_names``) or nnet.layer.ClassificationLayer (give ``classes``), saved with
    plain properties. The regression case copies mimo_trainedNet.mat's
    sigmoidClassificationLayer (Name, ResponseNames as a 1×1 cell, Description, Type;
    Version 1 as the class default); the class's ``own`` properties first, and the
    classification base's ``Classes`` (a categorical, like ClassificationOutputLayer's
    Categories) are inferred — no real sample."""
    if (response_names is None) == (classes is None):
        raise ValueError("give response_names (regression) or classes (classification)")
    base: dict[str, Any] = (
        {"ResponseNames": cell([char(str(n)) for n in response_names])}
        if response_names is not None
        else {"Classes": categorical(classes)}
    )
    properties = {
        **(own or {}),
        "Name": char(name),
        **base,
        "Description": char(description),
        "Type": char(""),
    }
    return DltObject(classname, properties, LAYER_DEFAULTS)


def rl_fcn_loss_layer(name: str, loss: str = "@(Y,T)mse(Y,T)") -> Layer:
    """rl.layer.FcnLossLayer, the loss layer the Reinforcement Learning Toolbox appends to
    the network of each actor and critic representation before R2022a — schema inferred,
    no real sample: its classdef (a subclass of nnet.layer.RegressionLayer with the
    properties LossFcn and IsNetworkStateful) saved like the user-defined regression layer
    above; LossFcn is stored as mat-io decodes a function handle (a cell holding a struct
    whose ``function`` is the handle's text)."""
    handle = cell([struct({"function": char("sf%0" + loss)})])
    own = {"LossFcn": handle, "IsNetworkStateful": logical(False)}
    return user_output_layer(
        "rl.layer.FcnLossLayer", name, response_names=["Response"], own=own
    )
