"""What an object detector knows beside its network: class names and anchor boxes.

A yolov2ObjectDetector saved since R2024 holds a dlnetwork without the YOLOv2OutputLayer
that used to carry the classes; the detector's own ClassNames and AnchorBoxes sit beside
its Network property. They become the generated module's CLASSES and a docstring note,
as output layers' metadata does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from codegen.ir import Graph
from codegen.layers.record import text_list


def apply(graph: Graph, siblings: Mapping[str, Any] | None) -> None:
    """Fill ``graph`` with the holder's ClassNames and AnchorBoxes, where it has them."""
    if not siblings or "AnchorBoxes" not in siblings:
        return  # not a detector: a ClassNames beside a network means nothing certain
    names = text_list(siblings.get("ClassNames"))
    if names and graph.classes is None:
        graph.classes = tuple(names)
        graph.notes.append("CLASSES are the detector's ClassNames, in its order.")
    anchors = siblings["AnchorBoxes"]
    if (
        isinstance(anchors, np.ndarray)
        and anchors.dtype.kind in "biuf"
        and anchors.ndim == 2
        and anchors.shape[1] == 2
    ):
        rows = "; ".join(" ".join(f"{v:g}" for v in row) for row in anchors.tolist())
        graph.notes.append(
            f"the detector's AnchorBoxes, one row per anchor as stored: [{rows}]; "
            "anchor a of the YOLO v2 transform's channels is row a + 1."
        )
