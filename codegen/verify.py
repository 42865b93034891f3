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
import itertools
import re
import sys
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codegen import plugins as plugin_api
from codegen.errors import ConversionError
from codegen.ir import FEATURE, IMAGE, IMAGE_SEQUENCE, SEQUENCE, VOLUME, Graph

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-6
# Sequence length of the random inputs of --random (the networks accept any).
RANDOM_STEPS = 7
# Height, width (and depth) of random images where the network accepts any size.
RANDOM_SIZE = 24


class VerifyError(ConversionError):
    """The comparison cannot run (missing variables, untrained network, ...): exit 2."""


# --- layouts -------------------------------------------------------------------------

_TO_TORCH = {  # MATLAB dims → PyTorch dims, for a full-rank array
    IMAGE: (3, 2, 0, 1),
    FEATURE: (1, 0),
    SEQUENCE: (1, 2, 0),
    VOLUME: (4, 3, 2, 0, 1),
    IMAGE_SEQUENCE: (3, 4, 2, 0, 1),
}
_RANK = {IMAGE: 4, FEATURE: 2, SEQUENCE: 3, VOLUME: 5, IMAGE_SEQUENCE: 5}


def matlab_to_torch(array: np.ndarray, layout: str) -> np.ndarray:
    """A MATLAB-layout input (trailing singleton dimensions possibly dropped) as the
    generated model takes it. One sequence may be C×T, one image sequence H×W×C×T."""
    x = np.asarray(array, dtype=np.float32)
    if layout == SEQUENCE and x.ndim == 2:
        return np.ascontiguousarray(x.T[None])
    if layout == IMAGE_SEQUENCE and x.ndim == 4:
        return np.ascontiguousarray(x.transpose(3, 2, 0, 1)[None])
    if layout == FEATURE and x.ndim == 1:
        x = x[:, None]
    while x.ndim < _RANK[layout]:
        x = x[..., None]
    return np.ascontiguousarray(x.transpose(_TO_TORCH[layout]))


def torch_to_matlab(array: np.ndarray, layout: str | None) -> np.ndarray:
    """A PyTorch-layout value as MATLAB holds it (layout told by the rank when unknown)."""
    a = np.asarray(array, dtype=np.float64)
    if layout is None or _RANK[layout] != a.ndim:
        layout = {2: FEATURE, 3: SEQUENCE, 4: IMAGE, 5: layout or VOLUME}.get(a.ndim)
        if layout is None:
            return a
    return a.transpose(np.argsort(_TO_TORCH[layout]))


def _squeeze(a: np.ndarray) -> np.ndarray:
    return a.reshape([d for d in a.shape if d != 1])


# --- comparison ----------------------------------------------------------------------


@dataclass
class Row:
    kind: str  # "output" or "layer"
    name: str  # MATLAB name
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    passed: bool
    note: str = ""


@dataclass
class Report:
    title: str
    rows: list[Row] = field(default_factory=list)
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def first_divergence(self) -> str | None:
        for r in self.rows:
            if r.kind == "layer" and not r.passed:
                return r.name
        return None

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def compare(
    kind: str,
    name: str,
    actual: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    rows_first: bool = False,
) -> Row:
    """Pass when max|actual − expected| ≤ atol + rtol·max|expected|.

    Singleton dimensions are ignored (MATLAB drops trailing ones; a fully connected layer
    in an image network gives 1×1×C×N); a 2-D value may be N×C (``predict`` of a
    SeriesNetwork or DAGNetwork returns scores one observation per row): ``rows_first``
    tries that arrangement first.
    """
    e = _squeeze(np.asarray(expected, dtype=np.float64))
    a = _squeeze(np.asarray(actual, dtype=np.float64))
    candidates = [a, a.T] if a.ndim == 2 else [a]
    if rows_first:
        candidates.reverse()
    match = next((c for c in candidates if c.shape == e.shape), None)
    if match is None:
        return Row(
            kind,
            name,
            tuple(np.shape(expected)),
            float("nan"),
            float("nan"),
            False,
            f"shape {tuple(np.shape(actual))} (MATLAB layout) does not match the reference "
            f"{tuple(np.shape(expected))}",
        )
    if e.size == 0:
        return Row(kind, name, tuple(np.shape(expected)), 0.0, 0.0, True)
    diff = np.abs(match - e)
    max_abs = float(np.nan_to_num(diff, nan=np.inf).max())
    scale = float(np.abs(e).max())
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else np.inf)
    ok = bool(max_abs <= atol + rtol * scale)
    return Row(kind, name, tuple(np.shape(expected)), max_abs, max_rel, ok)


def format_report(report: Report) -> str:
    header = (
        "compared",
        "MATLAB name",
        "shape (MATLAB)",
        "max abs err",
        "max rel err",
        "",
    )
    lines = [report.title, ""]
    table = [header]
    for r in report.rows:
        table.append(
            (
                r.kind,
                r.name,
                "×".join(str(d) for d in r.shape) or "scalar",
                f"{r.max_abs:.3g}",
                f"{r.max_rel:.3g}",
                ("pass" if r.passed else "FAIL") + (f"  {r.note}" if r.note else ""),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.append("")
    lines.append(
        f"tolerance: max abs err <= {report.atol:g} + {report.rtol:g} × max |reference|"
    )
    first = report.first_divergence
    if first is not None:
        lines.append(f"first layer where they diverge: {first!r}")
    if report.passed:
        lines.append(f"PASS: {len(report.rows)} comparisons agree.")
    else:
        failed = sum(not r.passed for r in report.rows)
        lines.append(f"FAIL: {failed} of {len(report.rows)} comparisons disagree.")
    return "\n".join(lines)


# --- the model -----------------------------------------------------------------------


@dataclass
class Loaded:
    graph: Graph
    model: Any  # torch.nn.Module
    matlab_kind: str
    network: Any  # the MATLAB network object as read (for the NumPy reference)


def load(
    net_path: str | Path,
    variable: str | None,
    model_dir: str | Path | None,
) -> Loaded:
    """Convert in memory (or import DIR/model.py) and load the weights strictly."""
    import torch  # noqa: F401  (the generated module needs it)

    from codegen import api
    from codegen.readers import mat

    file = mat.load(net_path)
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
        # The generated source exactly as `convert` would write it, imported from memory.
        module = types.ModuleType(f"mat2torch_verify_{uuid.uuid4().hex}")
        exec(compile(conversion.source, "model.py", "exec"), module.__dict__)
        from safetensors.torch import load as load_tensors

        model = getattr(module, graph.class_name)()
        model.load_state_dict(load_tensors(conversion.tensors), strict=True)
        model.eval()
    return Loaded(graph, model, found.kind, found.value)


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

    call = getattr(model, "predict", None) or model
    tensors = [torch.from_numpy(x) for x in inputs]
    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        with torch.no_grad():
            out = call(*tensors)
    finally:
        sys.setprofile(previous)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    values = {
        k: v.detach().numpy()
        for k, v in captured.items()
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
    values: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    rtol: float,
    atol: float,
) -> list[Row]:
    """One row per layer that has both a reference value and a forward variable, in
    execution order; layers the generated forward folds away have no row."""
    layouts = _node_layouts(graph)
    rows = []
    for node in graph.nodes:
        if node.name not in expected or node.ident not in values:
            continue
        actual = torch_to_matlab(values[node.ident], layouts[node.name])
        rows.append(
            compare("layer", node.name, actual, expected[node.name], rtol, atol)
        )
    return rows


# --- --reference REF.mat ---------------------------------------------------------------


def valid_field_name(name: str) -> str:
    """matlab.lang.makeValidName for the common cases: how a layer name becomes a struct
    field (invalid characters → '_', a leading non-letter gets an 'x' prefix)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text or not text[0].isalpha():
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
    if acts is not None:
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
    report.rows += _layer_rows(graph, values, expected_layers, rtol, atol)
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
    except RuntimeError as exc:
        shapes = ", ".join("×".join(map(str, x.shape)) for x in inputs)
        detail = " ".join(str(exc).split())
        raise VerifyError(
            f"{where}: the model cannot run on inputs of PyTorch shape {shapes} ({detail}); "
            "check that the inputs are in MATLAB layout as docs/verify.md describes."
        ) from None


# --- --random N ------------------------------------------------------------------------

Handler = Callable[..., np.ndarray]


def _random_input(
    info: Any, n: int, rng: np.random.Generator, where: str
) -> np.ndarray:
    """A MATLAB-layout random array for one input (T = RANDOM_STEPS for sequences)."""
    if info.shape and info.shape[0] is None:
        raise VerifyError(
            f"{where}: the number of input channels is not known ({info.describe()}); "
            "verify with --reference REF.mat holding inputs of the size you use."
        )
    # Spatial sizes the network leaves free (fully convolutional) are taken as RANDOM_SIZE.
    shape = tuple(RANDOM_SIZE if s is None else int(s) for s in info.shape)
    if info.layout == IMAGE:
        c, h, w = shape
        dims: tuple[int, ...] = (h, w, c, n)
    elif info.layout == FEATURE:
        dims = (shape[0], n)
    elif info.layout == SEQUENCE:
        dims = (shape[0], n, RANDOM_STEPS)
    elif info.layout == VOLUME:
        c, d, h, w = shape
        dims = (h, w, d, c, n)
    else:
        c, h, w = shape
        dims = (h, w, c, n, RANDOM_STEPS)
    return rng.standard_normal(dims).astype(np.float32).astype(np.float64)


def reference_activations(
    network: Any,
    kind: str,
    inputs: Mapping[str, np.ndarray],
    custom: Mapping[str, Handler] | None = None,
) -> dict[str, np.ndarray]:
    """Every layer's output from codegen.reference (MATLAB layout), by MATLAB name."""
    from codegen.reference import matlab_numpy as ref

    if kind in ("SimpleNN", "DagNN"):
        return matconvnet_activations(network, kind, inputs)
    if kind not in (
        "SeriesNetwork",
        "DAGNetwork",
        "dlnetwork",
        "LayerGraph",
        "LayerArray",
    ):
        raise VerifyError(
            f"verify --random does not cover {kind} networks; use --reference REF.mat "
            "with MATLAB's outputs."
        )
    if kind == "LayerArray":
        layers = list(np.asarray(network).ravel(order="F"))
        connections = None
    else:
        layers, connections = ref.network_layers(network)
    if connections is None:
        names = [ref.layer_name(layer) for layer in layers]
        connections = list(itertools.pairwise(names))
    return ref.run_graph(layers, connections, inputs, custom)


def _text(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.ravel())
    return value


def _cells(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_text(v) for v in value.ravel(order="F")]
    return []


def _fields(value: Any) -> dict[str, Any]:
    if not (isinstance(value, np.ndarray) and value.dtype.names and value.size):
        return {}
    rec = value.ravel(order="F")[0]
    return {k: _text(rec[k]) for k in value.dtype.names}


def _average_image(net: Mapping[str, Any]) -> np.ndarray | None:
    """meta.normalization.averageImage, which MatConvNet users subtract before
    vl_simplenn / DagNN.eval (and which the converted model subtracts itself)."""
    normalization = _fields(_fields(net.get("meta")).get("normalization"))
    average = normalization.get("averageImage")
    if average is None or np.asarray(average).size == 0:
        return None
    average = np.asarray(average, dtype=np.float64)
    if average.ndim <= 1 or average.shape[:2] == (1, 1):
        return average.reshape(1, 1, -1, 1)
    return average.reshape(*average.shape[:3], 1)


def matconvnet_activations(
    network: Any, kind: str, inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The MatConvNet reference (codegen.reference.matconvnet_numpy) on the network's
    stored struct: every SimpleNN layer's output under its name (``layerK`` when unnamed)
    and every DagNN layer's output under the layer's name, the input layer's under
    ``input`` after the average image is subtracted."""
    from codegen.reference import matconvnet_numpy as mcn

    net = _fields(network)
    (x,) = inputs.values()
    average = _average_image(net)
    x = np.asarray(x, dtype=np.float64) - (0 if average is None else average)
    out: dict[str, np.ndarray] = {"input": x}
    if kind == "SimpleNN":
        for index, cell in enumerate(np.asarray(net["layers"]).ravel(order="F")):
            layer = _fields(cell)
            if "weights" in layer:
                layer["weights"] = list(np.asarray(layer["weights"]).ravel(order="F"))
            if str(layer["type"]) in ("loss", "softmaxloss"):
                break
            x = mcn.simplenn_layer(layer, x)
            out[str(layer.get("name") or "") or f"layer{index + 1}"] = x
        return out
    params = {
        _text(p["name"]): p["value"] for p in np.asarray(net["params"]).ravel(order="F")
    }
    records = list(np.asarray(net["layers"]).ravel(order="F"))
    layers = [
        {
            "type": _text(e["type"]),
            "inputs": _cells(e["inputs"]),
            "outputs": _cells(e["outputs"]),
            "params": [params[p] for p in _cells(e["params"])],
            "block": _fields(e["block"]),
        }
        for e in records
    ]
    first = layers[0]["inputs"][0] if layers and layers[0]["inputs"] else "input"
    values = mcn.dagnn_forward(layers, {first: x})
    for e, layer in zip(records, layers, strict=True):
        if layer["outputs"] and layer["outputs"][0] in values:
            out[str(_text(e["name"]))] = values[layer["outputs"][0]]
    return out


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
    xs = {gi.name: _random_input(gi.info, count, rng, where) for gi in graph.inputs}
    handlers.update(custom or {})
    try:
        expected = reference_activations(
            loaded.network, loaded.matlab_kind, xs, handlers
        )
    except NotImplementedError as exc:
        raise VerifyError(
            f"{where}: the NumPy reference cannot run this network ({exc}); use "
            "--reference REF.mat with MATLAB's outputs instead."
        ) from None
    inputs = [matlab_to_torch(xs[gi.name], gi.info.layout) for gi in graph.inputs]
    outs, values = _run(loaded.model, inputs, where)
    report = Report(
        f"{Path(net_path).name} against the NumPy reference of MATLAB semantics "
        f"({count} random input{'s' if count != 1 else ''}, seed {seed})",
        rtol=rtol,
        atol=atol,
    )
    report.rows += _layer_rows(graph, values, expected, rtol, atol)
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
