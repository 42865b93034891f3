"""Build Deep Learning Toolbox networks in the exact schema MATLAB saves, and write them.

Why this exists: the project may not ship the corpus files, and no real sample covers
many layer classes. Tests and the shipped example network therefore need .mat files
that the reader cannot tell apart from MATLAB's own. Every builder here returns the
object MATLAB would save: built-in ``nnet.cnn.layer.*`` layers keep their ``saveobj``
struct in ``any`` (field names, order, dtypes and shapes copied from the newest schema
version seen in ``shared/corpus/dltoolbox``); layers written as ``nnet.layer.Layer``
subclasses (ELULayer, Indexing1DLayer) keep plain properties. Each object also carries
the class defaults MATLAB saves once per class (``Version`` = 1 next to ``any``, ...),
because a reader sees them merged into the properties.

Arguments are MATLAB-style: names, sizes and numpy arrays in MATLAB layout (conv weights
FH×FW×Cin×Cout, FC weights Out×In or H×W×C×Out, biases any shape with the right count).
Weights are stored as single, with MATLAB's dropped trailing singleton dimensions. A
learnable given as ``None`` is stored like an untrained layer's (a 0×0 double).

Builders whose docstring says "schema inferred, no real sample" follow the pattern of
the closest real class and the property names in MATLAB's documentation; treat those
files as plausible, not as ground truth.

Modules, by concern: :mod:`.values` (MATLAB value constructors), :mod:`.schema` (layer
objects, learnables, per-class field tables), the builders (:mod:`.inputs`,
:mod:`.convolution`, :mod:`.normalization`, :mod:`.activations`, :mod:`.pooling`,
:mod:`.outputs`, :mod:`.recurrent`, :mod:`.attention`, :mod:`.resize_crop` (2-D resize
and crop), :mod:`.scaling` (the Reinforcement Learning Toolbox's scaling layer),
:mod:`.imported` (layers of the Keras, TensorFlow and ONNX importers),
:mod:`.depth_space` (depth-to-space, space-to-depth), :mod:`.utility` (identity,
spatial dropout, 3-D crop), :mod:`.volume` (3-D layers),
:mod:`.detection` (YOLO v2 layers, 3-D resize), :mod:`.image_sequence` (image-sequence
input, sequence folding and unfolding)), :mod:`.containers` (networks) and
:mod:`.writing` (the mat-io write fix). Import everything from this package.
"""

from __future__ import annotations

from codegen.testing.dltwriter.activations import (
    clipped_relu,
    dropout,
    elu,
    flatten,
    gelu,
    leaky_relu,
    prelu,
    relu,
    sigmoid_layer,
    softmax,
    softplus,
    swish,
    tanh_layer,
)
from codegen.testing.dltwriter.attention import (
    attention_layer,
    embedding_concatenation,
    indexing1d,
    position_embedding,
    self_attention,
    word_embedding,
)
from codegen.testing.dltwriter.containers import (
    dag_network,
    dlnetwork,
    layer_array,
    layer_graph,
    series_network,
)
from codegen.testing.dltwriter.convolution import (
    conv2d,
    fully_connected,
    grouped_conv2d,
    transposed_conv2d,
    transposed_conv2d_v1,
)
from codegen.testing.dltwriter.depth_space import depth_to_space, space_to_depth
from codegen.testing.dltwriter.detection import (
    resize3d,
    yolov2_reorg,
    yolov2_transform,
)
from codegen.testing.dltwriter.image_sequence import (
    image_sequence_input,
    sequence_folding,
    sequence_unfolding,
)
from codegen.testing.dltwriter.imported import (
    importer_global_avg_pool2d,
    keras_clip,
    keras_flatten_cstyle,
    keras_flatten_cstyle_tf,
    keras_prelu,
    keras_sigmoid,
    keras_softsign,
    keras_tanh,
    keras_time_distributed_flatten,
    keras_zero_padding1d,
    keras_zero_padding2d,
    onnx_activation,
    onnx_elementwise_affine,
    onnx_flatten,
    onnx_flatten_into_2d,
    onnx_identity,
    onnx_verify_batch_size,
)
from codegen.testing.dltwriter.inputs import (
    feature_input,
    image_input,
    input_layer,
    sequence_input,
)
from codegen.testing.dltwriter.normalization import (
    batchnorm,
    cross_channel_norm,
    group_norm,
    instance_norm,
    layer_norm,
)
from codegen.testing.dltwriter.outputs import (
    addition,
    classification_output,
    concatenation,
    depth_concatenation,
    multiplication,
    regression_output,
    rl_fcn_loss_layer,
    user_output_layer,
)
from codegen.testing.dltwriter.pooling import (
    avg_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool2d,
    max_unpool2d,
)
from codegen.testing.dltwriter.recurrent import (
    bilstm,
    gru,
    gru_projected,
    lstm,
    lstm_projected,
)
from codegen.testing.dltwriter.resize_crop import crop2d, resize2d
from codegen.testing.dltwriter.scaling import scaling_layer
from codegen.testing.dltwriter.schema import DltObject, Layer, with_fields
from codegen.testing.dltwriter.sequence_conv import (
    avg_pool1d,
    conv1d,
    global_avg_pool1d,
    global_max_pool1d,
    max_pool1d,
    transposed_conv1d,
)
from codegen.testing.dltwriter.utility import crop3d, identity, spatial_dropout
from codegen.testing.dltwriter.values import (
    cell,
    char,
    double,
    empty,
    logical,
    single,
    string,
    struct,
)
from codegen.testing.dltwriter.volume import (
    avg_pool3d,
    batchnorm3d,
    conv3d,
    fully_connected3d,
    global_avg_pool3d,
    global_max_pool3d,
    image3d_input,
    max_pool3d,
    transposed_conv3d,
)
from codegen.testing.dltwriter.writing import write_mat

__all__ = [
    "DltObject",
    "Layer",
    "addition",
    "attention_layer",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batchnorm",
    "batchnorm3d",
    "bilstm",
    "cell",
    "char",
    "classification_output",
    "clipped_relu",
    "concatenation",
    "conv1d",
    "conv2d",
    "conv3d",
    "crop2d",
    "crop3d",
    "cross_channel_norm",
    "dag_network",
    "depth_concatenation",
    "depth_to_space",
    "dlnetwork",
    "double",
    "dropout",
    "elu",
    "embedding_concatenation",
    "empty",
    "feature_input",
    "flatten",
    "fully_connected",
    "fully_connected3d",
    "gelu",
    "global_avg_pool1d",
    "global_avg_pool2d",
    "global_avg_pool3d",
    "global_max_pool1d",
    "global_max_pool2d",
    "global_max_pool3d",
    "group_norm",
    "grouped_conv2d",
    "gru",
    "gru_projected",
    "identity",
    "image3d_input",
    "image_input",
    "image_sequence_input",
    "importer_global_avg_pool2d",
    "indexing1d",
    "input_layer",
    "instance_norm",
    "keras_clip",
    "keras_flatten_cstyle",
    "keras_flatten_cstyle_tf",
    "keras_prelu",
    "keras_sigmoid",
    "keras_softsign",
    "keras_tanh",
    "keras_time_distributed_flatten",
    "keras_zero_padding1d",
    "keras_zero_padding2d",
    "layer_array",
    "layer_graph",
    "layer_norm",
    "leaky_relu",
    "logical",
    "lstm",
    "lstm_projected",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool2d",
    "multiplication",
    "onnx_activation",
    "onnx_elementwise_affine",
    "onnx_flatten",
    "onnx_flatten_into_2d",
    "onnx_identity",
    "onnx_verify_batch_size",
    "position_embedding",
    "prelu",
    "regression_output",
    "relu",
    "resize2d",
    "resize3d",
    "rl_fcn_loss_layer",
    "scaling_layer",
    "self_attention",
    "sequence_folding",
    "sequence_input",
    "sequence_unfolding",
    "series_network",
    "sigmoid_layer",
    "single",
    "softmax",
    "softplus",
    "space_to_depth",
    "spatial_dropout",
    "string",
    "struct",
    "swish",
    "tanh_layer",
    "transposed_conv1d",
    "transposed_conv2d",
    "transposed_conv2d_v1",
    "transposed_conv3d",
    "user_output_layer",
    "with_fields",
    "word_embedding",
    "write_mat",
    "yolov2_reorg",
    "yolov2_transform",
]
