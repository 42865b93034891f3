"""An independent NumPy reference of MATLAB Deep Learning Toolbox inference semantics.

This package is the yardstick the converter's PyTorch output is measured against. It is
written from the rules in ``shared/docs/SEMANTICS.md`` (cited below as ``SEM §section``)
and from MATLAB's documentation, never from the converter: it imports neither torch nor
anything from ``codegen`` except the file-reading fix :func:`codegen.readers.matio_fix.
patched_load` (used only by :func:`load_mat`).

Conventions
-----------
* Everything works in **MATLAB layout**, with parameters exactly **as stored** in the file
  (MATLAB shapes, trailing singleton dimensions possibly dropped):

  - images ``(H, W, C, N)`` (always 4-D, even for N = 1),
  - features ``(C, N)`` (always 2-D),
  - sequences ``(C, N, T)`` (always 3-D: MATLAB's CBT).

  The layout of an activation is therefore told by its number of dimensions
  (:func:`channel_axis`).
* Computation is in float64 whatever the stored dtype.
* Padding/cropping vectors are MATLAB's ``[top bottom left right]`` (SEM §Convolution).
* Everything is written with explicit loops over kernel taps / time steps, so that each
  function reads like its defining formula.

Modules, by family: :mod:`.fields` (reading layer fields), :mod:`.geometry` (padding,
output sizes, resize to a size, by a scale or to a reference input, crop to a size or to
a reference input), :mod:`.convolution` (convolutions and pooling), :mod:`.dense` (fully
connected, batch, layer and cross-channel normalization), :mod:`.normalization` (group
and instance normalization), :mod:`.activations` (activations, PReLU, softplus and
combination layers), :mod:`.depth_space` (depth-to-space, space-to-depth),
:mod:`.scaling` (scalingLayer), :mod:`.utility` (identity, spatial dropout, 3-D crop),
:mod:`.imported` (layers of the Keras and ONNX importers, dispatched by full class name),
:mod:`.recurrent`, :mod:`.recurrent_projected` (lstmProjectedLayer, gruProjectedLayer
with their factors), :mod:`.attention` (with the embedding layers), and
:mod:`.networks` (file loading and running layers, series and graphs). Each family
module registers how to run its layer classes (``LAYERS``). Import everything from this package.
"""

from __future__ import annotations

from codegen.reference.matlab_numpy.activations import (
    addition,
    clipped_relu,
    concatenation,
    depth_concatenation,
    dropout,
    elu,
    gelu,
    hard_sigmoid,
    leaky_relu,
    multiplication,
    relu,
    sigmoid,
    softmax,
    softsign,
    swish,
    tanh,
)
from codegen.reference.matlab_numpy.attention import (
    indexing1d,
    position_embedding,
    self_attention,
    word_embedding,
)
from codegen.reference.matlab_numpy.conv1d import (
    avg_pool1d,
    conv1d,
    global_avg_pool1d,
    global_max_pool1d,
    max_pool1d,
    padding_1d,
    transposed_conv1d,
    transposed_cropping_1d,
)
from codegen.reference.matlab_numpy.convolution import (
    avg_pool2d,
    conv2d,
    global_avg_pool2d,
    global_max_pool2d,
    grouped_conv2d,
    max_pool2d,
    transposed_conv2d,
)
from codegen.reference.matlab_numpy.dense import (
    batchnorm,
    cross_channel_norm,
    flatten,
    fully_connected,
    input_layer,
    input_normalization,
    layer_norm,
)
from codegen.reference.matlab_numpy.fields import (
    Array,
    channel_axis,
    is_output_layer,
    layer_name,
    layer_props,
)

# Private names other test modules use: test_reference reads a field as text (_str), and
# test_recurrent checks an LSTM's final states (_lstm_direction).
from codegen.reference.matlab_numpy.fields import as_str as _str  # noqa: F401
from codegen.reference.matlab_numpy.geometry import (
    conv_output_size,
    crop2d,
    pad_spatial,
    resize2d,
    resize2d_scaled,
    same_padding,
    transposed_conv_same_cropping,
)
from codegen.reference.matlab_numpy.networks import (
    connections_from_table,
    load_mat,
    network_layers,
    run_graph,
    run_layer,
    run_layers,
)
from codegen.reference.matlab_numpy.recurrent import _lstm_direction as _lstm_direction
from codegen.reference.matlab_numpy.recurrent import bilstm, gru, lstm
from codegen.reference.matlab_numpy.recurrent_projected import (
    gru_projected,
    gru_projected_states,
    lstm_projected,
    lstm_projected_states,
)
from codegen.reference.matlab_numpy.scaling import scaling

__all__ = [
    "Array",
    "addition",
    "avg_pool1d",
    "avg_pool2d",
    "batchnorm",
    "bilstm",
    "channel_axis",
    "clipped_relu",
    "concatenation",
    "connections_from_table",
    "conv1d",
    "conv2d",
    "conv_output_size",
    "crop2d",
    "cross_channel_norm",
    "depth_concatenation",
    "dropout",
    "elu",
    "flatten",
    "fully_connected",
    "gelu",
    "global_avg_pool1d",
    "global_avg_pool2d",
    "global_max_pool1d",
    "global_max_pool2d",
    "grouped_conv2d",
    "gru",
    "gru_projected",
    "gru_projected_states",
    "hard_sigmoid",
    "indexing1d",
    "input_layer",
    "input_normalization",
    "is_output_layer",
    "layer_name",
    "layer_norm",
    "layer_props",
    "leaky_relu",
    "load_mat",
    "lstm",
    "lstm_projected",
    "lstm_projected_states",
    "max_pool1d",
    "max_pool2d",
    "multiplication",
    "network_layers",
    "pad_spatial",
    "padding_1d",
    "position_embedding",
    "relu",
    "resize2d",
    "resize2d_scaled",
    "run_graph",
    "run_layer",
    "run_layers",
    "same_padding",
    "scaling",
    "self_attention",
    "sigmoid",
    "softmax",
    "softsign",
    "swish",
    "tanh",
    "transposed_conv1d",
    "transposed_conv2d",
    "transposed_conv_same_cropping",
    "transposed_cropping_1d",
    "word_embedding",
]
