"""The supported-layers table, generated from the registry (docs/supported-layers.md)."""

from __future__ import annotations

from codegen.layers.registry import (
    ANY_VERSION,
    UNVERSIONED,
    Registration,
    registrations,
)


def schema_text(reg: Registration) -> str:
    """The stored schema versions a converter reads, as the table shows them."""
    if reg.versions == UNVERSIONED:
        return "none stored"
    if reg.versions == ANY_VERSION:
        return "any"
    if reg.versions is None:
        return "not declared"
    text = ", ".join(str(v) for v in reg.versions)
    if reg.properties is not None:
        text += " (plain properties: " + (", ".join(reg.properties) or "none") + ")"
    return text


def supported_layers_markdown() -> str:
    lines = [
        "# Supported layers",
        "",
        "Generated from the converter registry by `python scripts/generate_examples.py`; do not edit by hand.",
        "",
        "Schema versions: the stored `Version` values each converter reads; a layer stored",
        "in any other version is refused with an error naming it.",
        "",
        "Output (loss) layers of classes not listed here — user-defined subclasses of",
        "nnet.layer.ClassificationLayer/RegressionLayer, the Reinforcement Learning Toolbox's",
        "loss layers, any layer ending a SeriesNetwork or DAGNetwork — are training-only:",
        "they are left out with a note, like the built-in output layers.",
        "",
        "Keys `network.<property>.<function>` are the functions a shallow `network` object names "
        "(`layers{i}.transferFcn`, `inputWeights{i,j}.weightFcn`, `inputs{j}.processFcns`, ...).",
        "",
        "| MATLAB class | family | emitted as | schema versions |",
        "|---|---|---|---|",
    ]
    for classname, reg in registrations().items():
        emitted = (
            ", ".join(f"`{op}`" for op in reg.ops)
            or "dropped (training only; metadata kept)"
        )
        lines.append(
            f"| `{classname}` | {reg.family} | {emitted} | {schema_text(reg)} |"
        )
    return "\n".join(lines) + "\n"
