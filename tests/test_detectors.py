"""Networks inside object detectors: a YOLO v2 detector's Network property, and the older
detector form that keeps each network as a plain struct of raw layers (Layers, optional
Connections) rather than as a network object.

No real detector file exists in the corpus: the detector objects are written with the
project's schema writer, their schema inferred from the classes' MATLAB source
(yolov2ObjectDetector stores its properties — Network a dlnetwork, AnchorBoxes,
ClassNames, ... — without a saveobj; the struct form holds what a network's saveobj
returns). The layers themselves use the writer's builders (observed schemas where a real
sample exists). Outputs are compared with the independent NumPy reference run on the
network read back from the written file.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codegen.api import inspect_file
from codegen.readers.mat import describe_variable
from codegen.reference import matlab_numpy as ref
from codegen.reference.matlab_numpy.networks import connections_from_table
from codegen.testing import dltwriter as w
from codegen.testing.dltwriter.schema import DltObject
from codegen.testing.dltwriter.values import (
    categorical,
    cell,
    char,
    double,
    logical,
    struct,
)
from tests.conftest import convert_and_load, import_generated
from tests.support import TOL, rel_err, to_matlab, to_torch

RNG = np.random.default_rng(20261203)
ANCHORS, CLASSES = 2, 3


def _conv(name: str, cin: int, cout: int, k: int, pad: int) -> Any:
    weights = (RNG.standard_normal((k, k, cin, cout)) * 0.3).astype(np.float32)
    bias = (RNG.standard_normal(cout) * 0.1).astype(np.float32)
    return w.conv2d(name, weights, bias, padding=(pad,) * 4)


def yolo_layers() -> tuple[list[Any], list[tuple[str, str]]]:
    """A small YOLO v2 network with a reorganization branch, as yolov2Layers builds one:
    input → conv → relu → {pool → conv → relu, spaceToDepth-style reorg} → concat → 1×1
    conv with A·(5 + K) filters → transform."""
    c = ANCHORS * (5 + CLASSES)
    layers = [
        w.image_input("input", (8, 10, 3), "none"),
        _conv("conv1", 3, 4, 3, 1),
        w.relu("relu1"),
        w.max_pool2d("pool1", (2, 2), stride=(2, 2)),
        _conv("conv2", 4, 6, 3, 1),
        w.relu("relu2"),
        w.yolov2_reorg("reorg", (2, 2)),
        w.depth_concatenation("concat", 2),
        _conv("yolov2ClassConv", 6 + 16, c, 1, 0),
        w.yolov2_transform("yolov2Transform", ANCHORS),
    ]
    edges = [
        ("input", "conv1"),
        ("conv1", "relu1"),
        ("relu1", "pool1"),
        ("pool1", "conv2"),
        ("conv2", "relu2"),
        ("relu1", "reorg"),
        ("relu2", "concat/in1"),
        ("reorg", "concat/in2"),
        ("concat", "yolov2ClassConv"),
        ("yolov2ClassConv", "yolov2Transform"),
    ]
    return layers, edges


def yolov2_detector() -> DltObject:
    """yolov2ObjectDetector (2024 form: Network a dlnetwork) — schema inferred."""
    layers, edges = yolo_layers()
    properties = {
        "Network": w.dlnetwork(layers, edges),
        "InputSize": double([8, 10, 3]),
        "TrainingImageSize": double([8, 10]),
        "AnchorBoxes": np.array([[4.0, 3.0], [6.0, 8.0]]),  # M×2 double
        "ClassNames": categorical(["car", "bus", "bike"]),
        "ReorganizeLayerSource": char("relu1"),
        "LossFactors": double([5, 1, 1, 1]),
        "FractionDownsampling": logical(True),
        "WH2HW": logical(False),
        "ModelName": char("car"),
    }
    return DltObject("yolov2ObjectDetector", properties, {})


def run_and_compare(path: Path, out: Path, variable: str, net: Any) -> float:
    module, model = convert_and_load(path, out, variable=variable)
    x = RNG.standard_normal((8, 10, 3, 2))
    with torch.no_grad():
        got = to_matlab(model(to_torch(x)))
    if isinstance(net, np.ndarray):  # the struct form: read its fields directly
        rec = net.flat[0]
        layers = list(np.asarray(rec["Layers"]).ravel(order="F"))
        names = rec.dtype.names
        conns = (
            connections_from_table(rec["Connections"])
            if "Connections" in names
            else None
        )
    else:
        layers, conns = ref.network_layers(net)
    if conns is None:
        names = [ref.layer_name(layer) for layer in layers]
        conns = list(itertools.pairwise(names))
    outputs = ref.run_graph(layers, conns, {"input": x})
    last = ref.layer_name(layers[-1])
    err = rel_err(got, outputs[last])
    assert err <= TOL, f"relative error {err:.2e}"
    return err


def test_yolov2_detector_network_is_found_and_matches_reference(tmp_path: Path) -> None:
    path = tmp_path / "detector.mat"
    w.write_mat(path, {"detector": yolov2_detector()})
    (entry,) = inspect_file(path)["networks"]
    assert (entry["path"], entry["kind"], entry["error"]) == (
        "detector.Network",
        "dlnetwork",
        None,
    )
    stored = ref.load_mat(str(path))["detector"]
    run_and_compare(
        path, tmp_path / "out", "detector.Network", stored.properties["Network"]
    )
    source = (tmp_path / "out" / "model.py").read_text()
    assert "yolov2_transform = yolov2_transform_matlab(x, 2)" in source
    assert "x = space_to_depth_matlab(relu1, (2, 2))" in source
    assert "class Detector(" in source  # named after the variable, not its storage
    # What the detector knows beside its network: its classes and anchor boxes.
    module = import_generated(tmp_path / "out")
    assert module.CLASSES == ("car", "bus", "bike")
    assert "AnchorBoxes, one row per anchor as stored: [4 3; 6 8]" in source


def test_detector_without_network_data_says_why() -> None:
    from matio.utils.matclass import MatlabOpaque

    empty = MatlabOpaque(properties=None, classname="yolov2ObjectDetector")
    assert describe_variable(empty) == (
        "yolov2ObjectDetector object whose data is not in the file"
    )
    bare = MatlabOpaque(
        properties={"ModelName": char("x")}, classname="yolov2ObjectDetector"
    )
    assert "Network property holds no network" in describe_variable(bare)


def test_networks_kept_as_raw_layer_structs_are_found(tmp_path: Path) -> None:
    """Older detector form: each network a struct {Layers (+ Connections)}, not an object."""
    layers, edges = yolo_layers()
    chain = [
        w.image_input("input", (8, 10, 3), "none"),
        _conv("rpnConv", 3, 5, 3, 1),
        w.relu("rpnRelu"),
    ]
    dag = struct(
        {
            "Version": double(1),
            "Layers": w.layer_array(layers),
            "Connections": w.dag_network(layers, edges)
            .properties["any"]
            .flat[0]["Connections"],
        }
    )
    record = struct(
        {
            "Version": double(1),
            "Network": dag,
            "RegionProposalNetwork": struct(
                {"Version": double(1), "Layers": w.layer_array(chain)}
            ),
            "ClassNames": cell([char("car")]),
        }
    )
    detector = DltObject("fasterRCNNObjectDetector", {"any": record}, {})
    path = tmp_path / "old.mat"
    w.write_mat(path, {"detector": detector})
    found = {e["path"]: e for e in inspect_file(path)["networks"]}
    assert set(found) == {"detector.any.Network", "detector.any.RegionProposalNetwork"}
    assert all(
        e["kind"] == "LayerStruct" and e["error"] is None for e in found.values()
    )
    stored = ref.load_mat(str(path))["detector"].properties["any"].flat[0]
    # The DAG's Connections are used: a bare chain of its layers would not even convert.
    run_and_compare(path, tmp_path / "dag", "detector.any.Network", stored["Network"])
    run_and_compare(
        path,
        tmp_path / "rpn",
        "detector.any.RegionProposalNetwork",
        stored["RegionProposalNetwork"],
    )
