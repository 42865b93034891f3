"""Type confusion: any field of any layer replaced by a value of the wrong kind (NaN,
Inf, text, a cell, empty, huge, ...) gives a clean conversion or one sentence naming the
file, the variable, the layer and (for a field read directly) the field, never another
exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen import api
from codegen.errors import ConversionError
from codegen.layers.record import LayerRecord
from codegen.testing import dltwriter as w
from codegen.testing import hostile

pytestmark = pytest.mark.filterwarnings("ignore")

KINDS = ["nan", "inf", "text", "cell", "empty", "huge", "fraction", "struct", "complex"]


def _subset(network: str) -> list[hostile.FieldSwap]:
    """Every field of every layer, each with 3 of the kinds, rotating so that all kinds
    meet all layers: a deterministic third of the full sweep (scripts/fuzz.py runs it all).
    """
    swaps = list(hostile.field_swaps([network], KINDS))
    return [s for i, s in enumerate(swaps) if (i // len(KINDS) + i) % 3 == 0]


@pytest.mark.parametrize("network", sorted(hostile.NETWORKS))
def test_every_field_of_the_wrong_kind_is_a_clean_result(
    tmp_path: Path, network: str
) -> None:
    outcomes = {"converted": 0, "error": 0}
    named_fields = 0
    path = tmp_path / "swap.mat"
    for swap in _subset(network):
        w.write_mat(path, {"net": swap.build()})
        try:
            api.convert_file(path)
            outcomes["converted"] += 1
        except ConversionError as exc:
            message = str(exc)
            assert "\n" not in message, (str(swap), message)
            assert message.startswith("swap.mat, variable 'net'"), (str(swap), message)
            outcomes["error"] += 1
            named_fields += f"field '{swap.field}'" in message
        # any other exception fails the test with the swap in its traceback
    assert outcomes["error"] > 0 and outcomes["converted"] > 0, outcomes
    assert named_fields > outcomes["error"] // 3, (named_fields, outcomes)


def _record(**fields: object) -> LayerRecord:
    return LayerRecord(
        "nnet.cnn.layer.X", {"Name": np.array(["x"]), **fields}, "f.mat, variable 'net'"
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (np.array([[np.nan]]), "NaN"),
        (np.array([[np.inf]]), "Inf"),
        (np.array([[2.5]]), "the number 2.5"),
        (np.array([[1e300]]), "the number 1e+300"),
        (np.array([[-1.0]]), "the number -1.0"),
        (np.array([[1 + 1j]]), "a complex value"),
        (w.cell([w.double(1), w.double(2)]), "a cell of 2 elements"),
        (w.cell([w.char("auto")]), "a cell holding text 'auto'"),
        (w.struct({"a": w.double(1)}), "a struct"),
        (w.double([1, 2, 3]), "3 values"),
    ],
)
def test_a_whole_number_of_the_wrong_kind_names_file_layer_field_and_kind(
    value: object, kind: str
) -> None:
    with pytest.raises(ConversionError) as info:
        _record(NumFilters=value).integer("NumFilters")
    message = str(info.value)
    assert message.startswith("f.mat, variable 'net': layer 'x' (nnet.cnn.layer.X)")
    assert f"field 'NumFilters' holds {kind} where" in message


def test_accessors_accept_what_matlab_writes() -> None:
    record = _record(
        N=w.double(3),
        S=w.double([2, 2]),
        E=w.double(1e-5),
        B=w.logical(True),
        T=w.char("same"),
        C=w.cell([w.char("relu")]),
        Neg=w.double(-np.inf),
    )
    assert record.integer("N") == 3 and record.ints("S") == (2, 2)
    assert record.num("E") == 1e-5 and record.flag("B") is True
    assert (
        record.text("T") == "same" and record.num("T") is None
    )  # a mode, not a number
    assert record.text("C") == "relu"
    assert record.num("Neg", finite=False) == -np.inf
    with pytest.raises(ConversionError, match="field 'Neg' holds -Inf"):
        record.num("Neg")
    assert record.integer("Missing", 7) == 7
    assert record.enum("T", ("manual", "same"), "manual") == "same"
    assert record.enum("Missing", ("manual", "same"), "manual") == "manual"
    # numbers where a mode, a function name or a probability belongs are not defaults
    wrong = _record(Mode=w.double(3), Flag=w.double(2), P=w.double(1.5), E=w.double(-1))
    with pytest.raises(
        ConversionError, match="field 'Mode' holds the number 3.0 where text"
    ):
        wrong.word("Mode", "tanh")
    with pytest.raises(
        ConversionError, match="field 'Flag' holds .* where true or false"
    ):
        wrong.flag("Flag")
    with pytest.raises(ConversionError, match="where a number from 0 to 1 is expected"):
        wrong.num("P", between=(0.0, 1.0))
    with pytest.raises(ConversionError, match="where a number above zero is expected"):
        wrong.num("E", positive=True)
    assert record.word("T") == "same" and record.word("C") == "relu"
    with pytest.raises(
        ConversionError, match="holds text 'same' where one of 'a', 'b'"
    ):
        record.enum("T", ("a", "b"), "a")
