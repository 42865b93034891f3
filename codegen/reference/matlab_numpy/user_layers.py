"""NumPy semantics of the two user-defined layer classes in the corpus networks.

A .mat file stores a user-defined layer's property values, never its code, so these are
written from the ``predict`` methods of the classes' MATLAB source files in the
networks' own repositories (shared/corpus/dltoolbox/MANIFEST.tsv names them):

* ``sigmoidLayer`` (mimo_trainedNet.mat; tuzkreekman/mimo-detect-and-decode,
  sigmoidLayer.m): ``Z = exp(X)./(exp(X)+1);`` — elementwise, written exactly so (for
  X beyond exp's range MATLAB gets Inf/Inf = NaN; so does this).
* ``identityLayer`` (eeg_eegNet.mat; matlab-deep-learning/
  Abnormal-EEG-Signal-Classification-Using-CNNs, extras_/identityLayer.m, Description
  'Identity' as stored): ``Z = X;``.

They are not in the default dispatch (another project's ``sigmoidLayer`` may compute
something else): pass :data:`CORPUS_USER_LAYERS` as ``custom=`` to ``run_layer``,
``run_layers`` or ``run_graph``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def sigmoid_layer(props: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """mimo's sigmoidLayer.predict: ``Z = exp(X)./(exp(X)+1)``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return e / (e + 1)


def identity_layer(props: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """eeg's identityLayer.predict: ``Z = X``."""
    return np.asarray(x, dtype=np.float64)


CORPUS_USER_LAYERS: dict[str, Callable[..., np.ndarray]] = {
    "sigmoidLayer": sigmoid_layer,
    "identityLayer": identity_layer,
}
