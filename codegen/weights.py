"""safetensors writing: keys are exactly the generated module's state_dict() keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codegen.ir import Graph


def state_arrays(graph: Graph) -> dict[str, np.ndarray]:
    """Every array that has a value, under its state_dict key (missing values are left out)."""
    tensors: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        for key, value in node.params.items():
            if value is not None:
                tensors[f"{node.ident}.{key}"] = np.ascontiguousarray(value)
        for key, value in node.buffers.items():
            tensors[f"{node.ident}_{key}"] = np.ascontiguousarray(value)
    return dict(sorted(tensors.items()))


def expected_keys(graph: Graph) -> list[str]:
    """All state_dict keys the module will have, valued or not."""
    keys = [f"{n.ident}.{k}" for n in graph.nodes for k in n.params]
    keys += [f"{n.ident}_{k}" for n in graph.nodes for k in n.buffers]
    return sorted(keys)


def to_bytes(graph: Graph) -> bytes:
    from safetensors.numpy import save

    meta = {"source": graph.source_name, "sha256": graph.source_sha256, "variable": graph.variable}
    return save(state_arrays(graph), metadata=meta)


def read(path: str | Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))
