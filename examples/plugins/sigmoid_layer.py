"""mat2torch plugin for the user-defined layers of the mimo network (mimo_trainedNet.mat).

The MATLAB classes (tuzkreekman/mimo-detect-and-decode):

    classdef sigmoidLayer < nnet.layer.Layer
        function Z = predict(~, X)
            Z = exp(X)./(exp(X)+1);

    classdef sigmoidClassificationLayer < nnet.layer.RegressionLayer   % training only

Use: mat2torch convert mimo_trainedNet.mat --plugin examples/plugins/sigmoid_layer.py
This file is run by mat2torch when you name it: it is your code, like any Python script.
"""

import numpy as np

from codegen.plugins import Dropped, register_layer, same_shape, text_list

# The template: macros init(node) (lines for __init__) and forward(node, args) (the
# expression computing the layer's output from the argument variables `args`).
# exp(X)./(exp(X)+1) is the logistic sigmoid; torch.sigmoid computes it without the
# overflow MATLAB's formula has for X > 88 in single precision (there MATLAB gives NaN).
SIGMOID_TEMPLATE = """
{% macro init(node) %}
{% endmacro %}
{% macro forward(node, args) %}
torch.sigmoid({{ args[0] }})
{% endmacro %}
"""


def _sigmoid_reference(props, x):
    """The MATLAB predict in NumPy (MATLAB layout), for `mat2torch verify --random`."""
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / (e + 1)


@register_layer(
    "sigmoidLayer",
    op="mimo_sigmoid",
    template=SIGMOID_TEMPLATE,
    reference=_sigmoid_reference,
)
def sigmoid_layer(layer, inputs):
    # Elementwise: the output has the input's layout and size.
    return same_shape(layer, inputs, "mimo_sigmoid")


@register_layer("sigmoidClassificationLayer")
def sigmoid_classification_layer(layer, inputs):
    # An output layer only computes the training loss: nothing at inference. Keep what
    # it knows (its response names) for the generated module.
    return Dropped(response_names=tuple(text_list(layer.raw("ResponseNames", None))))
