"""The mat-io class-name fix: needed today, scoped to its context, and watched for removal."""

from __future__ import annotations

from pathlib import Path

import pytest
from matio import load_from_mat
from matio.subsystem.subsys import MatSubsystem

from codegen.readers.matio_fix import patched_load

DLT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dltoolbox"
CCN = DLT / "ccn_net.mat"
needs_corpus = pytest.mark.skipif(
    not DLT.is_dir(), reason=f"the MATLAB corpus folder {DLT} is missing"
)

CCN_CLASSES = [
    "ImageInputLayer",
    *["Convolution2DLayer", "BatchNormalizationLayer", "ReLULayer", "MaxPooling2DLayer"]
    * 3,
    "FullyConnectedLayer",
    "FullyConnectedLayer",
    "SoftmaxLayer",
    "ClassificationOutputLayer",
]


def _layer_classes(data: dict) -> list[str]:
    layers = data["net"].properties["any"][0, 0]["Layers"]
    return [layer.classname for layer in layers.ravel(order="F")]


@needs_corpus
def test_patched_load_gives_each_layer_its_own_class() -> None:
    with patched_load():
        data = load_from_mat(str(CCN))
    assert _layer_classes(data) == ["nnet.cnn.layer." + name for name in CCN_CLASSES]
    assert (
        data["net"].properties["any"][0, 0]["Layers"].classname
        == "nnet.cnn.layer.Layer"
    )


@needs_corpus
def test_unpatched_matio_still_mislabels_layer_arrays() -> None:
    """Guard: if this fails, mat-io has fixed its bug and patched_load may be removable."""
    classes = set(_layer_classes(load_from_mat(str(CCN))))
    assert classes == {"nnet.cnn.layer.Layer"}, (
        "mat-io now names the elements of heterogeneous object arrays correctly "
        f"(got {sorted(classes)}): codegen/readers/matio_fix.py and patched_load may be removable."
    )


def test_patch_is_inactive_after_the_context_exits() -> None:
    original = MatSubsystem.load_mcos_object
    with patched_load():
        assert MatSubsystem.load_mcos_object is not original
    assert MatSubsystem.load_mcos_object is original
    with pytest.raises(RuntimeError), patched_load():
        raise RuntimeError("an error inside the context")
    assert MatSubsystem.load_mcos_object is original
