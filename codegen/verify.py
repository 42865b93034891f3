"""`mat2torch verify`: run a converted model and compare it with MATLAB's own numbers.

Two sources of truth:

* ``--reference REF.mat``: inputs and MATLAB's outputs saved by MATLAB (variables ``X`` or
  ``X1, X2, ...``, ``Y`` or ``Y1, Y2, ...``, optionally a struct ``activations`` of
  per-layer outputs; docs/verify.md gives the MATLAB lines);
* ``--random N``: no MATLAB at all — the independent NumPy reference of MATLAB semantics
  (:mod:`codegen.reference`) on N random inputs.

Per-layer values come from the generated ``forward`` itself: every layer's output is a
local variable named after the layer (the legalised MATLAB name the conversion assigned),
read when ``forward`` returns. Nothing is changed in the model to do so.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codegen import plugins as plugin_api
from codegen.ir import FEATURE, Graph
from codegen.verify_numpy import Handler, random_input, reference_activations
from codegen.verify_report import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    Report,
    Row,
    VerifyError,
    compare,
    format_report,
    matlab_to_torch,
    torch_to_matlab,
)

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "Report",
    "Row",
    "VerifyError",
    "format_report",
    "verify_random",
    "verify_reference",
]


# --- the model -----------------------------------------------------------------------


@dataclass
class Loaded:
    graph: Graph
    model: Any  # torch.nn.Module
    matlab_kind: str
    network: Any  # the MATLAB network object as read (for the NumPy reference)
    # forward's variable for each layer value (emit.local_names), worked out while the
    # plugins whose templates it needs are loaded
    variables: dict[str, str]


def load(
    net_path: str | Path,
    variable: str | None,
    model_dir: str | Path | None,
) -> Loaded:
    """Convert in memory (or import DIR/model.py) and load the weights strictly."""
    from codegen import api
    from codegen.readers import mat

    file = mat.load(net_path, networks_only=True)
    found = api.select(file, variable)
    conversion = api.convert_file(net_path, found.path)
    graph = conversion.graph
    if model_dir is not None:
        model = _load_dir(Path(model_dir))
    else:
        if not conversion.has_weights:
            raise VerifyError(
                f"{file.path.name}, variable '{found.path}': the network is untrained (no stored "
                "weights), so there is nothing to compare; train it in MATLAB first."
            )
        # The generated source as `convert` writes it, except that forward keeps every
        # layer's value under the layer's name (model.py lets values go after their last
        # use): the same modules and weights, each layer's output observable.
        from codegen import emit

        source = emit.render_model(graph, lean=False)
        module = types.ModuleType(f"mat2torch_verify_{uuid.uuid4().hex}")
        exec(compile(source, "model.py", "exec"), module.__dict__)
        from safetensors.torch import load as load_tensors

        model = getattr(module, graph.class_name)()
        model.load_state_dict(load_tensors(conversion.tensors), strict=True)
        model.eval()
    from codegen.emit import local_names

    return Loaded(graph, model, found.kind, found.value, local_names(graph))


def _load_dir(directory: Path) -> Any:
    source = directory / "model.py"
    if not source.is_file():
        raise VerifyError(
            f"{source}: no such file; give --model-dir the directory `mat2torch convert` wrote."
        )
    spec = importlib.util.spec_from_file_location(
        f"mat2torch_verify_{uuid.uuid4().hex}", source
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    weights = directory / "model.safetensors"
    try:
        spec.loader.exec_module(module)
        model = module.load_model(weights) if weights.is_file() else module.load_model()
    except Exception as exc:  # the user's edited model.py or weights
        detail = " ".join(str(exc).split())
        raise VerifyError(
            f"{source}: cannot load the model ({type(exc).__name__}: {detail}); fix model.py "
            "or convert again into that directory."
        ) from None
    return model.eval()


def run_capturing(
    model: Any, inputs: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """``model.predict`` (what MATLAB's predict returns) if the model has one, else the
    model itself; also every tensor local of ``forward`` when it returns, by name."""
    import torch

    code = type(model).forward.__code__
    captured: dict[str, Any] = {}

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            captured.clear()
            captured.update(frame.f_locals)

    # A model.py that lets values go after their last use (as `convert` writes it) keeps
    # few layer-named locals: the outputs of its layer modules are caught as they run.
    by_module: dict[str, Any] = {}
    hooks = [
        child.register_forward_hook(
            lambda _m, _args, output, name=name: by_module.__setitem__(name, output)
        )
        for name, child in model.named_children()
    ]
    call = getattr(model, "predict", None) or model
    tensors = [torch.from_numpy(x) for x in inputs]
    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        with torch.no_grad():
            out = call(*tensors)
    finally:
        sys.setprofile(previous)
        for hook in hooks:
            hook.remove()
    outs = list(out) if isinstance(out, tuple | list) else [out]
    # An input argument forward never reassigned is the raw input, not the input
    # layer's output (which may normalise it into another variable): not compared.
    captured = {k: v for k, v in captured.items() if not any(v is t for t in tensors)}
    values = {
        k: v.detach().numpy()
        for k, v in {**by_module, **captured}.items()
        if isinstance(v, torch.Tensor)
    }
    return [o.detach().numpy() for o in outs], values


def _node_layouts(graph: Graph) -> dict[str, str | None]:
    return {n.name: (n.out.layout if n.out else None) for n in graph.nodes}


def _output_layout(graph: Graph, name: str) -> str | None:
    from codegen.emit import output_info

    info = output_info(graph, name)
    return info.layout if info is not None else None


def _layer_rows(
    graph: Graph,
    variables: Mapping[str, str],
    values: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    rtol: float,
    atol: float,
) -> list[Row]:
    """One row per layer that has both a reference value and a forward variable, in
    execution order; layers the generated forward folds away have no row."""
    layouts = _node_layouts(graph)
    # forward's variable for the layer (``variables``, snake_case), else its module's
    # output (by the attribute's name, from a forward hook)
    rows = []
    for node in graph.nodes:
        key = variables.get(node.name, node.ident)
        if key not in values:
            key = node.ident
        if node.name not in expected or key not in values:
            continue
        actual = torch_to_matlab(values[key], layouts[node.name])
        rows.append(
            compare("layer", node.name, actual, expected[node.name], rtol, atol)
        )
    return rows


# --- --reference REF.mat ---------------------------------------------------------------


_MATLAB_KEYWORDS = frozenset(
    [
        "break",
        "case",
        "catch",
        "classdef",
        "continue",
        "else",
        "elseif",
        "end",
        "for",
        "function",
        "global",
        "if",
        "otherwise",
        "parfor",
        "persistent",
        "return",
        "spmd",
        "switch",
        "try",
        "while",
    ]
)


def valid_field_name(name: str) -> str:
    """matlab.lang.makeValidName, as documented: whitespace is deleted (a lowercase
    letter after it is capitalised), other invalid characters become '_', a name not
    starting with a letter gets an 'x' prefix, a keyword becomes 'x' + Keyword, and the
    result is cut to namelengthmax (63)."""
    text = re.sub(r"\s+([a-z])", lambda m: m.group(1).upper(), name.strip())
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if text in _MATLAB_KEYWORDS:
        text = "x" + text[0].upper() + text[1:]
    elif not text or not text[0].isalpha():
        text = "x" + text
    return text[:63]


def _numbered(variables: Mapping[str, Any], stem: str, count: int) -> list[Any] | None:
    if count == 1 and stem in variables:
        return [variables[stem]]
    names = [f"{stem}{i}" for i in range(1, count + 1)]
    if all(n in variables for n in names):
        return [variables[n] for n in names]
    return None


def _array(value: Any, what: str, ref_name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise VerifyError(
            f"{ref_name}: {what} is not a numeric array (MATLAB class {type(value).__name__}); "
            "save plain numeric arrays (extractdata/gather dlarrays, double(...) categorical scores)."
        )
    return array.astype(np.float64)


def verify_reference(
    net_path: str | Path,
    ref_path: str | Path,
    model_dir: str | Path | None = None,
    variable: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    plugins: Sequence[str | Path] = (),
) -> Report:
    from codegen.readers import mat

    with plugin_api.loaded(plugins):
        loaded = load(net_path, variable, model_dir)
    graph = loaded.graph
    ref = mat.load(ref_path)
    name = ref.path.name
    stems = ("X" if len(graph.inputs) == 1 else "X1, X2, ...", len(graph.inputs))
    xs = _numbered(ref.variables, "X", len(graph.inputs))
    if xs is None:
        raise VerifyError(
            f"{name}: the network has {stems[1]} input(s) "
            f"({', '.join(gi.name for gi in graph.inputs)}) but the file has no variable(s) "
            f"{stems[0]}; save the inputs as docs/verify.md shows."
        )
    ys = _numbered(ref.variables, "Y", len(graph.outputs))
    if ys is None:
        raise VerifyError(
            f"{name}: the network has {len(graph.outputs)} output(s) "
            f"({', '.join(graph.outputs)}) but the file has no variable(s) "
            f"{'Y' if len(graph.outputs) == 1 else 'Y1, Y2, ...'}; save MATLAB's predict "
            "outputs as docs/verify.md shows."
        )
    inputs = [
        matlab_to_torch(_array(x, f"X{i + 1}", name), gi.info.layout)
        for i, (x, gi) in enumerate(zip(xs, graph.inputs, strict=True))
    ]
    outs, values = _run(loaded.model, inputs, name)
    report = Report(f"{Path(net_path).name} against {name}", rtol=rtol, atol=atol)
    expected_layers: dict[str, np.ndarray] = {}
    acts = ref.variables.get("activations")
    if acts is None:
        report.notes.append(
            f"{name} has no 'activations' struct: outputs only; save per-layer "
            "activations (docs/verify.md) to find the first layer that differs."
        )
    else:
        if not (isinstance(acts, np.ndarray) and acts.dtype.names):
            raise VerifyError(
                f"{name}: 'activations' is not a struct; save one field per layer "
                "(docs/verify.md)."
            )
        record = acts.flat[0]
        for node in graph.nodes:
            key = valid_field_name(node.name)
            if key in acts.dtype.names:
                expected_layers[node.name] = _array(
                    record[key], f"activations.{key}", name
                )
        if not expected_layers:
            fields = ", ".join(acts.dtype.names[:5])
            report.notes.append(
                f"none of the 'activations' fields ({fields}) is a layer name made valid "
                "with matlab.lang.makeValidName: outputs only."
            )
    report.rows += _layer_rows(
        graph, loaded.variables, values, expected_layers, rtol, atol
    )
    rows_first = loaded.matlab_kind in ("SeriesNetwork", "DAGNetwork")
    for out_name, actual, y in zip(graph.outputs, outs, ys, strict=True):
        layout = _output_layout(graph, out_name)
        report.rows.append(
            compare(
                "output",
                out_name,
                torch_to_matlab(actual, layout),
                _array(y, "Y", name),
                rtol,
                atol,
                rows_first=rows_first and layout == FEATURE,
            )
        )
    return report


def _run(
    model: Any, inputs: Sequence[np.ndarray], where: str
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    try:
        return run_capturing(model, inputs)
    except NotImplementedError as exc:
        raise VerifyError(
            f"{where}: the model has a stub that is not ported yet ({' '.join(str(exc).split())}); "
            "port it first."
        ) from None
    except (RuntimeError, ValueError) as exc:  # ValueError: forward's own input checks
        shapes = ", ".join("×".join(map(str, x.shape)) for x in inputs)
        detail = " ".join(str(exc).split())
        raise VerifyError(
            f"{where}: the model cannot run on inputs of PyTorch shape {shapes} ({detail}); "
            "check that the inputs are in MATLAB layout as docs/verify.md describes."
        ) from None


def verify_random(
    net_path: str | Path,
    count: int,
    variable: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    seed: int = 0,
    custom: Mapping[str, Handler] | None = None,
    plugins: Sequence[str | Path] = (),
) -> Report:
    """Compare with the NumPy reference on ``count`` random observations (one batch).

    ``custom`` (and the ``reference`` functions of ``plugins``) give the NumPy
    semantics of user-defined layers, keyed by MATLAB class or layer name.
    """
    if count < 1:
        raise VerifyError(f"--random {count}: give a positive number of inputs.")
    with plugin_api.loaded(plugins):
        loaded = load(net_path, variable, None)
        handlers = plugin_api.reference_handlers()
    graph = loaded.graph
    where = f"{Path(net_path).name}, variable '{graph.variable}'"
    rng = np.random.default_rng(seed)
    xs = {gi.name: random_input(gi.info, count, rng, where) for gi in graph.inputs}
    handlers.update(custom or {})
    try:
        expected = reference_activations(
            loaded.network, loaded.matlab_kind, xs, handlers
        )
    except NotImplementedError as exc:
        reason = str(exc).split(";")[0]  # drop the reference's hint for Python callers
        raise VerifyError(
            f"{where}: the NumPy reference cannot run this network ({reason}); for a "
            "user-defined layer give its plugin a reference= function (docs/plugins.md), "
            "or use --reference REF.mat with MATLAB's outputs."
        ) from None
    inputs = [matlab_to_torch(xs[gi.name], gi.info.layout) for gi in graph.inputs]
    outs, values = _run(loaded.model, inputs, where)
    report = Report(
        f"{Path(net_path).name} against the NumPy reference of MATLAB semantics "
        f"({count} random input{'s' if count != 1 else ''}, seed {seed})",
        rtol=rtol,
        atol=atol,
    )
    report.rows += _layer_rows(graph, loaded.variables, values, expected, rtol, atol)
    for out_name, actual in zip(graph.outputs, outs, strict=True):
        layer = out_name.partition("/")[0]
        if layer in expected:
            layout = _output_layout(graph, out_name)
            report.rows.append(
                compare(
                    "output",
                    out_name,
                    torch_to_matlab(actual, layout),
                    expected[layer],
                    rtol,
                    atol,
                )
            )
    return report
