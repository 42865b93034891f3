"""The public Python API: inspect and convert MATLAB .mat networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen import emit, output, weights
from codegen.errors import ConversionError
from codegen.importers import dltoolbox
from codegen.ir import Graph
from codegen.passes.names import (
    assign_names,
    check_class_name,
    default_class_name,
    safe_class_name,
)
from codegen.readers import mat

MATCONVNET_KINDS = ("SimpleNN", "DagNN")


@dataclass
class Conversion:
    graph: Graph
    source: str  # model.py text
    # model.safetensors bytes; b"" when the network stores no weights at all
    tensors: bytes
    warnings: list[str] = field(default_factory=list)

    @property
    def has_weights(self) -> bool:
        """False for an untrained network with no stored values: no model.safetensors."""
        return bool(self.tensors)


def _where(file: mat.MatFile, path: str) -> str:
    return f"{file.path.name}, variable '{path}'"


def select(file: mat.MatFile, variable: str | None) -> mat.FoundNetwork:
    """The one network to convert: by path, or the only one in the file."""
    found = mat.find_networks(file.variables)
    if not found:
        raise ConversionError(mat.nothing_found(file))
    if variable is None:
        if len(found) > 1:
            paths = ", ".join(f"'{f.path}' ({f.kind})" for f in found)
            raise ConversionError(
                f"{file.path.name} holds {len(found)} networks: {paths}; choose one with --variable PATH."
            )
        return found[0]
    for f in found:
        if f.path == variable:
            return f
    paths = ", ".join(f"'{f.path}'" for f in found)
    raise ConversionError(
        f"{file.path.name}: no network at variable '{variable}'; networks found: {paths}."
    )


def import_graph(
    found: mat.FoundNetwork, where: str, stub_unsupported: bool = False
) -> Graph:
    if found.kind in MATCONVNET_KINDS:
        from codegen.importers import matconvnet

        return matconvnet.import_network(
            found.value, found.kind, where, stub_unsupported
        )
    return dltoolbox.import_network(found.value, found.kind, where, stub_unsupported)


def convert_file(
    path: str | Path,
    variable: str | None = None,
    class_name: str | None = None,
    stub_unsupported: bool = False,
    max_memory: int | None = None,
) -> Conversion:
    """Read, import, name and render one network; writes nothing.

    ``stub_unsupported``: unsupported layers (user-defined classes, custom MatConvNet
    types) become explicit stubs that raise NotImplementedError until ported, instead
    of failing the conversion.
    """
    file = mat.load(path, max_memory)
    found = select(file, variable)
    where = _where(file, found.path)
    graph = import_graph(found, where, stub_unsupported)
    graph.source_name = file.display_name
    graph.source_sha256 = file.sha256
    graph.variable = found.path
    helpers = emit.helper_names(graph)
    if class_name is None:
        default = default_class_name(file.path.name, found.path)
        graph.class_name = safe_class_name(default, helpers)
    else:
        why = check_class_name(class_name)
        if why is None and class_name in helpers:
            why = "model.py defines a helper of that name"
        if why is not None:
            raise ConversionError(
                f"--class-name {class_name!r} cannot name the generated class: {why}; "
                f"choose another, e.g. --class-name {safe_class_name(class_name, helpers)}."
            )
        graph.class_name = class_name
    command = f"mat2torch convert {file.display_name}"
    if variable is not None:
        command += f" --variable {variable}"
    if class_name is not None:
        command += f" --class-name {class_name}"
    if stub_unsupported:
        command += " --stub-unsupported"
    graph.command = command
    assign_names(graph, reserved=helpers)
    notes = []
    stubs = [n for n in graph.nodes if n.op == "stub"]
    if stubs:
        listed = ", ".join(f"{n.name!r} ({n.matlab_class})" for n in stubs)
        notes.append(
            f"{where}: layers {listed} have no code in the file and became stubs that raise "
            "NotImplementedError; port their MATLAB code (predict(), or the function shown) into "
            "the stub classes in model.py."
        )
    bad_values = weights.nonfinite_note(graph)
    if bad_values:
        graph.notes.append(f"WARNING: {bad_values}")
        notes.append(f"{where}: {bad_values}")
    mode = weights.weights_mode(graph)
    if mode == "none":
        notes.append(
            f"{where}: the network is UNTRAINED (the file stores no weights); model.py is the architecture "
            "with PyTorch's default initialisation and no model.safetensors is written."
        )
    elif mode == "partial":
        missing = weights.missing_keys(graph)
        notes.append(
            f"{where}: the network is UNTRAINED ({len(missing)} of {len(weights.expected_keys(graph))} weight "
            "arrays have no stored values); those keep PyTorch's default initialisation and are left out of "
            "model.safetensors (listed in UNTRAINED_KEYS)."
        )
    tensors = weights.to_bytes(graph) if mode != "none" else b""
    return Conversion(graph, emit.render_model(graph), tensors, notes)


def convert(
    path: str | Path,
    out_dir: str | Path,
    variable: str | None = None,
    class_name: str | None = None,
    force: bool = False,
    stub_unsupported: bool = False,
    max_memory: int | None = None,
) -> Conversion:
    """Convert and write out_dir/model.py and out_dir/model.safetensors, all or nothing."""
    out = Path(out_dir)
    targets = [out / "model.py", out / "model.safetensors"]
    if not force:
        existing = [t for t in targets if t.exists()]
        if existing:
            raise ConversionError(
                f"{existing[0]} already exists; pass --force to overwrite it."
            )
    result = convert_file(path, variable, class_name, stub_unsupported, max_memory)
    out.mkdir(parents=True, exist_ok=True)
    output.write_pair(targets[0], result.source.encode(), targets[1], result.tensors)
    return result


def key_properties(node: Any) -> str:
    """The node's simple attributes (numbers, text, small tuples) as `key=value` text."""
    parts = []
    for key, value in node.attrs.items():
        if isinstance(value, bool | int | float | str) or (
            isinstance(value, tuple)
            and len(value) <= 4
            and all(isinstance(v, int | float) for v in value)
        ):
            parts.append(
                f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
            )
    return " ".join(parts)


def inspect_file(path: str | Path, max_memory: int | None = None) -> dict[str, Any]:
    """What `mat2torch inspect` prints, as data."""
    file = mat.load(path, max_memory)
    networks = []
    for found in mat.find_networks(file.variables):
        entry: dict[str, Any] = {"path": found.path, "kind": found.kind}
        try:
            graph = import_graph(found, _where(file, found.path))
            entry["layers"] = [
                (n.name, n.matlab_class, n.op, key_properties(n)) for n in graph.nodes
            ]
            entry["inputs"] = [(gi.name, gi.info.describe()) for gi in graph.inputs]
            entry["outputs"] = list(graph.outputs)  # MATLAB names, in OutputNames order
            entry["parameters"] = sum(
                int(v.size)
                for n in graph.nodes
                for k, v in n.params.items()
                if v is not None and k != "num_batches_tracked"
            )
            entry["trained"] = graph.trained
            entry["nonfinite"] = weights.nonfinite_note(graph)
            entry["error"] = None
        except ConversionError as exc:
            entry["error"] = str(exc)
            entry["layers"] = []
        networks.append(entry)
    report: dict[str, Any] = {"file": file.path.name, "networks": networks}
    if not networks:
        report["nothing_found"] = mat.nothing_found(file)
    return report
