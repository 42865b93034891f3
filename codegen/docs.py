"""The supported-layers table, generated from the registry (docs/supported-layers.md)."""

from __future__ import annotations

from codegen.layers.registry import registrations


def supported_layers_markdown() -> str:
    lines = [
        "# Supported layers",
        "",
        "Generated from the converter registry by `python scripts/generate_examples.py`; do not edit by hand.",
        "",
        "Keys `network.<property>.<function>` are the functions a shallow `network` object names "
        "(`layers{i}.transferFcn`, `inputWeights{i,j}.weightFcn`, `inputs{j}.processFcns`, ...).",
        "",
        "| MATLAB class | family | emitted as |",
        "|---|---|---|",
    ]
    for classname, reg in registrations().items():
        emitted = (
            ", ".join(f"`{op}`" for op in reg.ops)
            or "dropped (training only; metadata kept)"
        )
        lines.append(f"| `{classname}` | {reg.family} | {emitted} |")
    return "\n".join(lines) + "\n"
