"""mat2torch plugin for the user-defined layer of the EEG network (eeg_eegNet.mat).

The MATLAB class (matlab-deep-learning/Abnormal-EEG-Signal-Classification-Using-CNNs,
extras_/identityLayer.m):

    classdef identityLayer < nnet.layer.Layer
        function Z = predict(~, X)
            Z = X;

Use: mat2torch convert eeg_eegNet.mat --plugin examples/plugins/identity_layer.py
This file is run by mat2torch when you name it: it is your code, like any Python script.
The template lives in a file, templates/eeg_identity.py.jinja beside this plugin.
"""

import numpy as np

from codegen.plugins import register_layer, same_shape


@register_layer(
    "identityLayer",
    op="eeg_identity",
    template_dir="templates",  # relative to this file: templates/eeg_identity.py.jinja
    reference=lambda props, x: np.asarray(x, dtype=np.float64),
)
def identity_layer(layer, inputs):
    return same_shape(layer, inputs, "eeg_identity")
