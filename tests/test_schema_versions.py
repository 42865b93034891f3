"""Schema versions are explicit: each converter declares the stored ``Version`` values it
reads, and a layer stored in any other version is refused with one sentence naming it.

The only transposed convolution in the corpus (resunet_net.mat) is schema version 2. The
version 1 objects here are written with the schema writer from the first releases'
documented properties (``Cropping`` = [a b], no CroppingMode/CroppingSize): that schema is
inferred, not copied from a real file.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from codegen.errors import ConversionError
from codegen.layers.registry import ANY_VERSION, UNVERSIONED, lookup, registrations
from codegen.reference import matlab_numpy as ref
from codegen.testing import dltwriter as w
from tests.conftest import corpus_file
from tests.support import (
    TOL,
    from_torch,
    rand,
    rel_err,
    rng_fixture,
    run,
    write_and_convert,
)

rng = rng_fixture(20260912)


def test_every_registered_class_declares_its_schema_versions() -> None:
    undeclared = [c for c, reg in registrations().items() if reg.versions is None]
    assert not undeclared, f"classes without declared schema versions: {undeclared}"
    for classname, reg in registrations().items():
        if classname.startswith(("simplenn.", "dagnn.", "network.")):
            # MatConvNet layers store no version; nor do a shallow network's functions
            # (the network object's own format version is checked by its importer)
            assert reg.versions == UNVERSIONED, classname
        elif reg.versions != ANY_VERSION:
            assert isinstance(reg.versions, tuple) and reg.versions, classname
            assert all(isinstance(v, int) and v >= 1 for v in reg.versions), classname


def test_every_layer_version_in_the_corpus_is_declared() -> None:
    """Survey of the real files: each layer of a registered class is stored in a version
    its converter declares (the declarations were made from this survey)."""
    from matio.utils.matclass import MatlabOpaque

    from codegen.importers.dltoolbox import network_parts
    from codegen.layers.record import LayerRecord
    from codegen.readers import mat

    seen: set[tuple[str, int | str]] = set()
    for name in (
        "ccn_net.mat",
        "specsense_trainedNet.mat",
        "mimo_trainedNet.mat",
        "eeg_eegNet.mat",
        "fuma28_trainedNet.mat",
        "resunet_net.mat",
        "tsx_transformer_demo.mat",
        "faultdet_TrainedModel.mat",
        "pac48_imagecontrolBC_dlnet.mat",
    ):
        file = mat.load(corpus_file("dltoolbox", name))
        for found in mat.find_networks(file.variables):
            objects, _, _ = network_parts(found.value, found.kind)
            for obj in objects:
                if not isinstance(obj, MatlabOpaque):
                    continue
                record = LayerRecord.from_object(obj, name)
                reg = lookup(record.classname)
                if reg is None:
                    continue
                version = int(record.num("Version") or 0)
                assert isinstance(reg.versions, tuple)
                assert version in reg.versions, (name, record.classname, version)
                seen.add((record.short_class, version))
                if record.plain_properties is not None:
                    # Saved with plain properties: the Version is the base class's,
                    # so the converter declares the properties it reads instead.
                    assert reg.properties is not None, record.classname
                    reg.check_schema(record)
                    seen.add((record.short_class, "plain"))
    # The survey covers several versions of the classes whose schema changed most.
    for expected in [
        ("Convolution2DLayer", 3),
        ("Convolution2DLayer", 8),
        ("BatchNormalizationLayer", 1),
        ("ImageInputLayer", 1),
        ("ImageInputLayer", 5),
        ("SoftmaxLayer", 2),
        ("TransposedConvolution2DLayer", 2),
        ("ELULayer", "plain"),
        ("Indexing1DLayer", "plain"),
    ]:
        assert expected in seen


@pytest.mark.parametrize(
    ("stride", "cropping"), [((2, 2), (1, 1)), ((2, 2), (0, 0)), ((3, 2), (1, 2))]
)
def test_version1_transposed_convolution_crops_both_sides(
    tmp_path, rng, stride, cropping
) -> None:
    """v1 ``Cropping`` [a b]: out = Stride·(in − 1) + FilterSize − 2·[a b]."""
    weights, bias = rand(rng, 4, 4, 3, 2), rand(rng, 3)  # FH×FW×Cout×Cin
    net = w.series_network(
        [
            w.image_input("in", (16, 16, 2), "none"),
            w.transposed_conv2d_v1(
                "up", weights, bias, stride=stride, cropping=cropping
            ),
        ]
    )
    _module, model, path = write_and_convert(tmp_path, {"net": net})
    x = rng.standard_normal((16, 16, 2, 2))
    got = from_torch(run(model, x))
    height = stride[0] * 15 + 4 - 2 * cropping[0]
    width = stride[1] * 15 + 4 - 2 * cropping[1]
    assert got.shape == (height, width, 3, 2)
    objects, _ = ref.network_layers(ref.load_mat(str(path))["net"])
    expected = ref.run_layers(objects, x)
    assert expected.shape == got.shape
    assert rel_err(got, expected) <= TOL
    direct = ref.transposed_conv2d(
        x, weights, bias, stride, (cropping[0], cropping[0], cropping[1], cropping[1])
    )
    assert rel_err(got, direct) <= TOL


def test_version1_cropping_11_gives_32_by_32_and_the_docstring_says_so(
    tmp_path, rng
) -> None:
    """The issue's case: 16×16 → stride 2, 4×4 filter, Cropping [1 1] → 32×32, not 34×34."""
    weights = rand(rng, 4, 4, 5, 3)
    net = w.series_network(
        [
            w.image_input("in", (16, 16, 3), "none"),
            w.transposed_conv2d_v1("up", weights, stride=(2, 2), cropping=(1, 1)),
        ]
    )
    _module, model, _ = write_and_convert(tmp_path, {"net": net})
    got = from_torch(run(model, rng.standard_normal((16, 16, 3, 1))))
    assert got.shape[:3] == (32, 32, 5)
    source = (tmp_path / "out_net" / "model.py").read_text()
    assert "(N, 5, 32, 32)" in source and "34, 34" not in source


def _transposed(version_fields: dict, rng: np.random.Generator) -> w.Layer:
    layer = w.transposed_conv2d(
        "up", rand(rng, 3, 3, 2, 2), rand(rng, 2), stride=(2, 2)
    )
    return w.with_fields(layer, **version_fields)


def _convert(tmp_path, layer: w.Layer) -> None:
    net = w.series_network([w.image_input("in", (5, 5, 2), "none"), layer])
    write_and_convert(tmp_path, {"net": net})


@pytest.mark.parametrize("version", [0, 3, 7])
def test_unknown_version_fails_with_one_sentence_naming_it(
    tmp_path, rng, version
) -> None:
    layer = _transposed({"Version": w.double(version)}, rng)
    with pytest.raises(ConversionError) as info:
        _convert(tmp_path, layer)
    message = str(info.value)
    assert re.search(
        rf"layer 'up' \(nnet\.cnn\.layer\.TransposedConvolution2DLayer\) is stored in "
        rf"schema version {version}, which mat2torch does not know \(it reads this class "
        r"in version 1, 2\)",
        message,
    ), message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_unknown_version_of_another_class_fails_too(tmp_path, rng) -> None:
    relu = w.with_fields(w.relu("act"), Version=w.double(2))
    net = w.series_network([w.image_input("in", (4, 4, 1), "none"), relu])
    with pytest.raises(
        ConversionError,
        match=r"'act' \(nnet\.cnn\.layer\.ReLULayer\) is stored in schema version 2",
    ):
        write_and_convert(tmp_path, {"net": net})


def test_version1_with_version2_cropping_fields_is_refused(tmp_path, rng) -> None:
    layer = _transposed({"Version": w.double(1), "Cropping": w.double((1, 1))}, rng)
    with pytest.raises(ConversionError, match="CroppingMode/CroppingSize"):
        _convert(tmp_path, layer)


def test_version2_with_a_version1_cropping_field_is_refused(tmp_path, rng) -> None:
    layer = _transposed({"Cropping": w.double((1, 1))}, rng)
    with pytest.raises(ConversionError, match="only schema version 1 stores"):
        _convert(tmp_path, layer)


@pytest.mark.parametrize("cropping", [(1,), (1, 1, 1, 1), (-1, 0)])
def test_version1_cropping_must_be_two_non_negative_numbers(
    tmp_path, rng, cropping
) -> None:
    layer = w.transposed_conv2d_v1("up", rand(rng, 3, 3, 2, 2), cropping=cropping)
    with pytest.raises(ConversionError, match=r"schema version 1 stores \[a b\]"):
        _convert(tmp_path, layer)


def test_plain_property_classes_declare_the_properties_they_read() -> None:
    """Classes saved as nnet.layer.Layer subclasses (seen: ELULayer, Indexing1DLayer;
    written that way by the schema writer: PReLULayer, the rl.layer classes)."""
    for classname in (
        "nnet.cnn.layer.ELULayer",
        "nnet.cnn.layer.Indexing1DLayer",
        "nnet.cnn.layer.PReLULayer",
        "rl.layer.ScalingLayer",
        "rl.layer.SoftplusLayer",
    ):
        reg = lookup(classname)
        assert reg is not None and reg.properties is not None, classname


def test_an_unknown_property_of_a_plain_property_layer_fails_naming_it(
    tmp_path,
) -> None:
    """An ELULayer from a release whose class gained a property: its Version (the base
    class's) cannot say so, the property set does."""
    elu = w.elu("act", 0.5)
    elu.properties["Approximation"] = w.char("tanh")
    net = w.series_network([w.image_input("in", (4, 4, 1), "none"), elu])
    with pytest.raises(ConversionError) as info:
        write_and_convert(tmp_path, {"net": net})
    message = str(info.value)
    assert (
        "layer 'act' (nnet.cnn.layer.ELULayer) stores the property Approximation, which "
        "mat2torch does not know for this class (it reads: Alpha)" in message
    ), message


@pytest.mark.parametrize(
    ("make", "field", "value", "message"),
    [
        ("conv", "ConvolveOverTime", True, "has ConvolveOverTime set"),
        ("conv", "DistributeOverTime", True, "has DistributeOverTime set"),
        ("conv", "ConvolutionDimIdx", (1, 3), r"has ConvolutionDimIdx \[1, 3\]"),
        ("pool", "PoolOverTime", True, "has PoolOverTime set"),
        ("pool", "PoolingDimIdx", (2, 3), r"has PoolingDimIdx \[2, 3\]"),
        ("input", "SplitComplexInputs", True, "has SplitComplexInputs set"),
    ],
)
def test_options_of_newer_versions_the_converters_do_not_implement_are_refused(
    tmp_path, rng, make, field, value, message
) -> None:
    """Version 8 convolutions, version 3 max pooling and version 5 inputs store these;
    the corpus shows them false / [1 2], the only values the converters implement."""
    stored = w.logical(value) if isinstance(value, bool) else w.double(value)
    image = w.image_input("in", (6, 6, 2), "none")
    conv = w.conv2d("conv", rand(rng, 3, 3, 2, 4), rand(rng, 4))
    pool = w.max_pool2d("pool", (2, 2), stride=(2, 2))
    target = {"conv": conv, "pool": pool, "input": image}[make]
    w.with_fields(target, **{field: stored})
    net = w.series_network([image, conv, pool])
    with pytest.raises(ConversionError, match=message):
        write_and_convert(tmp_path, {"net": net})
    # The stored default converts.
    default = w.logical(False) if isinstance(value, bool) else w.double((1, 2))
    w.with_fields(target, **{field: default})
    write_and_convert(tmp_path, {"net": net}, name="ok.mat")
