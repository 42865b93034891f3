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
            if value is not None:
                tensors[f"{node.prefix}_{key}"] = np.ascontiguousarray(value)
    return dict(sorted(tensors.items()))


def nonfinite(graph: Graph) -> dict[str, tuple[int, int]]:
    """Stored arrays with NaN or Inf values, by MATLAB layer name and array: "'fc' weight"
    → (how many values, of how many)."""
    found: dict[str, tuple[int, int]] = {}
    for node in graph.nodes:
        arrays = {**node.params, **node.buffers}
        for key, value in arrays.items():
            if value is None or not np.issubdtype(value.dtype, np.floating):
                continue
            bad = int(np.count_nonzero(~np.isfinite(value)))
            if bad:
                found[f"{node.name!r} {key}"] = (bad, int(value.size))
    return found


def nonfinite_note(graph: Graph) -> str | None:
    """One sentence for the header, the CLI and inspect; None when every value is finite."""
    found = nonfinite(graph)
    if not found:
        return None
    listed = ", ".join(f"{k} ({bad} of {size})" for k, (bad, size) in found.items())
    return (
        f"{len(found)} stored weight array{'s' if len(found) != 1 else ''} hold NaN or "
        f"Inf values: {listed}; the network probably diverged in training, and its "
        "outputs will not be finite."
    )


def expected_keys(graph: Graph) -> list[str]:
    """All state_dict keys the module will have, valued or not."""
    keys = [f"{n.ident}.{k}" for n in graph.nodes for k in n.params]
    keys += [f"{n.prefix}_{k}" for n in graph.nodes for k in n.buffers]
    return sorted(keys)


def missing_keys(graph: Graph) -> list[str]:
    """state_dict keys with no stored value (an untrained network): never written as zeros."""
    stored = state_arrays(graph)
    return [k for k in expected_keys(graph) if k not in stored]


def weights_mode(graph: Graph) -> str:
    """'all' (every key has a value), 'partial' (some do) or 'none' (no weights file at all)."""
    missing = missing_keys(graph)
    if not missing:
        return "all"
    return "partial" if state_arrays(graph) else "none"


def to_bytes(graph: Graph) -> bytes:
    """Deterministic bytes: tensors sorted by key, one metadata entry (safetensors stores
    metadata in a hash map, so several keys would come out in varying order)."""
    import torch
    from safetensors.torch import save

    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state_arrays(graph).items()}
    return save(tensors, metadata={"source": graph.weights_source})


def read(path: str | Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))
