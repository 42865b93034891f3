"""Shallow networks (MATLAB ``network`` objects, also inside an ``Autoencoder``) → IR.

A ``network`` object is saved as a struct (its saveobj form): connection matrices
(``biasConnect``, ``inputConnect``, ``layerConnect``, ``outputConnect``), the values
``IW``/``LW``/``b`` (cells) and per-input/-layer/-output/-weight structs naming the
functions (``processFcns``, ``netInputFcn``, ``transferFcn``, ``weightFcn``). ``sim`` on a
static network processes each input, computes the layers in an order where each
layer's sources come first, and reverse-processes each output layer's value.

The generated model takes (N, features) per input and returns (N, outputs) per output,
like a feature-input network: ``forward`` is MATLAB's ``sim(net, x')'``. A layer's first
dotprod weight and its bias become one ``nn.Linear``; further weights (cascade
connections) are their own modules. Tapped delays (narxnet, timedelaynet, layrecnet) and
feedback are refused: a static forward cannot reproduce them.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from codegen.errors import ConversionError
from codegen.ir import FEATURE, Graph, GraphInput, Node, TensorInfo
from codegen.layers.record import LayerRecord, is_empty, text_list, to_text
from codegen.layers.registry import SUPPORTED_HINT, lookup
from codegen.readers.mat import shallow_kind

KNOWN_VERSIONS = ("8",)
REQUIRED = (
    "numInputs",
    "numLayers",
    "biasConnect",
    "inputConnect",
    "layerConnect",
    "outputConnect",
    "inputs",
    "layers",
    "outputs",
    "inputWeights",
    "layerWeights",
    "IW",
    "LW",
    "b",
)


def _fields(value: Any) -> dict[str, Any] | None:
    """A 1×1 struct (record array, or a cell holding one) as a dict; None when empty."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    if isinstance(value, np.ndarray) and value.dtype.names and value.size >= 1:
        rec = value.ravel(order="F")[0]
        return {k: rec[k] for k in value.dtype.names}
    return None


def _cells(value: Any, rows: int, cols: int) -> list[list[Any]]:
    """A rows × cols cell as a list of rows; a 1×1 cell may be stored as its content."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        if value.size != rows * cols:
            raise ValueError(f"{value.size} cells, not {rows}×{cols}")
        flat = list(value.ravel(order="F"))
    else:
        flat = [value]
        if rows * cols != 1:
            raise ValueError(f"1 cell, not {rows}×{cols}")
    return [[flat[r + rows * c] for c in range(cols)] for r in range(rows)]


def _empty(value: Any) -> bool:
    return is_empty(value) or not isinstance(value, np.ndarray)


def _number(fields: dict[str, Any], key: str, where: str) -> int:
    value = fields.get(key)
    if _empty(value) or np.asarray(value).dtype.kind not in "biuf":
        _missing(where, key)
    return round(float(np.asarray(value).ravel()[0]))


def _missing(where: str, key: str) -> NoReturn:
    raise ConversionError(
        f"{where}: the network object has no usable '{key}'; save it again from MATLAB "
        "(save('net.mat','net')) with a release that opens it."
    )


def _flags(
    fields: dict[str, Any], key: str, rows: int, cols: int, where: str
) -> np.ndarray:
    value = fields.get(key)
    if value is None:
        _missing(where, key)
    array = np.asarray(value) if not _empty(value) else np.zeros((rows, cols))
    if array.size != rows * cols:
        raise ConversionError(
            f"{where}: the network's '{key}' is {array.shape}, not {rows}×{cols}; save it again from MATLAB."
        )
    return array.reshape((rows, cols), order="F").astype(bool)


def _delays(settings: dict[str, Any] | None) -> list[float]:
    if settings is None or _empty(settings.get("delays")):
        return []
    return [float(v) for v in np.asarray(settings["delays"]).ravel()]


def _text(value: Any) -> str:
    return to_text(value, "") or ""


def import_network(value: Any, kind: str, where: str) -> Graph:
    """The IR of a static network; ``kind`` 'Autoencoder' reads its ``Network``."""
    if kind == "Autoencoder":
        props = value.properties if isinstance(value.properties, dict) else {}
        inner = props.get("Network")
        if shallow_kind(inner) != "network":
            raise ConversionError(
                f"{where}: the Autoencoder holds no network object in its 'Network' property; "
                "save the trained autoencoder again (save('autoenc.mat','autoenc'))."
            )
        value = inner
    fields = _fields(value)
    if fields is None:
        raise ConversionError(
            f"{where}: the network object is empty; save the trained network again."
        )
    for key in REQUIRED:
        if key not in fields:
            _missing(where, key)
    return _Builder(fields, kind, where).graph()


class _Builder:
    def __init__(self, fields: dict[str, Any], kind: str, where: str) -> None:
        self.f = fields
        self.kind = kind
        self.where = where
        self.n_in = _number(fields, "numInputs", where)
        self.n_layers = _number(fields, "numLayers", where)
        self.nodes: list[Node] = []
        self.taken: set[str] = set()
        self.explained: set[str] = set()

    def fail(self, what: str) -> ConversionError:
        return ConversionError(f"{self.where}: {what}")

    def cells(self, key: str, rows: int, cols: int) -> list[list[Any]]:
        try:
            return _cells(self.f[key], rows, cols)
        except ValueError as exc:
            raise self.fail(
                f"the network's '{key}' has {exc}; save it again from MATLAB."
            ) from None

    def unique(self, name: str) -> str:
        base, k = name, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def check_version(self) -> None:
        """The saveobj format: version '8' in every file seen (saved 2017 to 2023)."""
        version = _text(self.f.get("version"))
        if version not in KNOWN_VERSIONS:
            raise self.fail(
                f"the network object is stored in format version {version!r}, which mat2torch "
                f"has not seen (it reads version {', '.join(KNOWN_VERSIONS)}); load and save it "
                "again in a recent MATLAB release."
            )

    def check_static(self) -> None:
        delays = {
            key: _number(self.f, key, self.where)
            for key in ("numInputDelays", "numLayerDelays", "numFeedbackDelays")
            if key in self.f
        }
        weights = [
            s
            for key, cols in (
                ("inputWeights", self.n_in),
                ("layerWeights", self.n_layers),
            )
            for row in self.cells(key, self.n_layers, cols)
            for s in (_fields(c) for c in row)
        ]
        if any(delays.values()) or any(any(_delays(s)) for s in weights):
            said = (
                ", ".join(f"{k} {v}" for k, v in delays.items() if v)
                or "weights with nonzero delays"
            )
            raise self.fail(
                f"the shallow network has tapped delays ({said}), as narxnet, timedelaynet and "
                "layrecnet make; mat2torch converts static networks only (feedforwardnet, fitnet, "
                "patternnet, cascadeforwardnet, ...), so convert a network without delays."
            )

    def graph(self) -> Graph:
        self.check_version()
        self.check_static()
        n_in, n_layers = self.n_in, self.n_layers
        bias_c = _flags(self.f, "biasConnect", n_layers, 1, self.where)[:, 0]
        input_c = _flags(self.f, "inputConnect", n_layers, n_in, self.where)
        layer_c = _flags(self.f, "layerConnect", n_layers, n_layers, self.where)
        output_c = _flags(self.f, "outputConnect", 1, n_layers, self.where)[0]
        inputs = self.cells("inputs", 1, n_in)[0]
        layers = [row[0] for row in self.cells("layers", n_layers, 1)]
        outputs = self.cells("outputs", 1, n_layers)[0]
        iw, lw = self.cells("IW", n_layers, n_in), self.cells("LW", n_layers, n_layers)
        iw_s = self.cells("inputWeights", n_layers, n_in)
        lw_s = self.cells("layerWeights", n_layers, n_layers)
        b = [row[0] for row in self.cells("b", n_layers, 1)]

        graph = Graph(
            source_name="",
            source_sha256="",
            variable="",
            matlab_class=self.kind,
            matlab_layer_count=n_layers,
        )
        # Processed inputs: (node name, info) per MATLAB input.
        sources: list[tuple[str, TensorInfo]] = []
        for j, spec in enumerate(inputs):
            s = _fields(spec)
            if s is None:
                raise self.fail(
                    f"input {j + 1} of the network has no settings; save it again from MATLAB."
                )
            if not _empty(s.get("feedbackOutput")):
                raise self.fail(
                    f"input {j + 1} is the feedback of an output (an open-loop NARX network); "
                    "mat2torch converts static networks only."
                )
            size = _number(s, "size", self.where)
            if size <= 0:
                raise self.fail(
                    f"input {j + 1} of the network has size 0: the network was saved before it was "
                    "configured or trained; train it (or configure(net, x, t)) in MATLAB and save it again."
                )
            name = self.unique(_text(s.get("name")) or f"input{j + 1}")
            info = TensorInfo(FEATURE, (size,))
            graph.inputs.append(GraphInput(name, info))
            sources.append(self.process(name, info, s, f"input {j + 1}", reverse=False))

        names = [
            self.unique(_text((_fields(spec) or {}).get("name")) or f"layer{i + 1}")
            for i, spec in enumerate(layers)
        ]
        done: dict[int, tuple[str, TensorInfo]] = {}
        pending = list(range(n_layers))
        while pending:
            ready = [
                i for i in pending if all(k in done for k in np.flatnonzero(layer_c[i]))
            ]
            if not ready:
                raise self.fail(
                    "the network's layers feed each other in a cycle without delays, which sim cannot compute."
                )
            i = ready[0]
            pending.remove(i)
            parts: list[tuple[str, Any, Any, tuple[str, TensorInfo], str]] = []
            for j in map(int, np.flatnonzero(input_c[i])):
                parts.append(("IW", (i, j), iw_s[i][j], sources[j], f"input {j + 1}"))
            for k in map(int, np.flatnonzero(layer_c[i])):
                parts.append(
                    ("LW", (i, k), lw_s[i][k], done[k], f"layer {k + 1} ('{names[k]}')")
                )
            done[i] = self.layer(
                i,
                names[i],
                _fields(layers[i]),
                parts,
                iw,
                lw,
                b[i] if bias_c[i] else None,
            )

        for i in map(int, np.flatnonzero(output_c)):
            s = _fields(outputs[i])
            if s is None:
                raise self.fail(
                    f"output {i + 1} of the network has no settings; save it again from MATLAB."
                )
            mode = _text(s.get("feedbackMode")) or "none"
            if mode != "none":
                raise self.fail(
                    f"output of layer {i + 1} has feedbackMode '{mode}' (a NARX network); "
                    "mat2torch converts static networks only."
                )
            label = _text(s.get("name")) or f"output{i + 1}"
            final, _ = self.process(
                label,
                done[i][1],
                s,
                f"output of layer {i + 1}",
                reverse=True,
                source=done[i][0],
            )
            graph.outputs.append(final)
        if not graph.outputs:
            raise self.fail("the network has no output (outputConnect is all false).")
        graph.nodes = self.nodes
        network_name = _text(self.f.get("name"))
        if network_name:
            graph.notes.append(
                f"MATLAB network name: {network_name!r}. forward(x) equals MATLAB's sim(net, x.T).T for x of shape (N, features)."
            )
        if self.kind == "Autoencoder":
            first = self.nodes[[n.op for n in self.nodes].index("shallow_layer")].name
            graph.notes.append(
                f"forward is predict(autoenc, x.T).T; encode(autoenc, x.T).T is the output of layer {first!r}."
            )
        return graph

    def convert(
        self, classname: str, fields: dict[str, Any], infos: list[TensorInfo], what: str
    ) -> Node:
        registration = lookup(classname)
        if registration is None:
            kind, fcn = classname.split(".")[1:3]
            raise self.fail(
                f"{what} uses {kind} '{fcn}', which mat2torch does not convert ({SUPPORTED_HINT}); "
                "retrain the network with a supported function."
            )
        record = LayerRecord(classname, fields, self.where)
        result = registration.convert(record, infos)
        assert isinstance(result, Node)
        return result

    def process(
        self,
        name: str,
        info: TensorInfo,
        spec: dict[str, Any],
        what: str,
        reverse: bool,
        source: str | None = None,
    ) -> tuple[str, TensorInfo]:
        """Chain the processing nodes of an input (apply) or an output (reverse)."""
        fcns = text_list(spec.get("processFcns"))
        settings_value = spec.get("processSettings")
        settings = (
            [_fields(c) for c in settings_value.ravel(order="F")]
            if isinstance(settings_value, np.ndarray) and settings_value.dtype == object
            else []
        )
        if len(settings) != len(fcns) or any(s is None for s in settings):
            raise self.fail(
                f"{what} lists processFcns {fcns} but {len(settings)} processSettings; save the network again from MATLAB."
            )
        current = source or name
        steps = list(zip(fcns, settings, strict=True))
        # Output processing mapped the targets to the layer's range: sim undoes it last-first.
        for fcn, s in reversed(steps) if reverse else steps:
            assert s is not None
            if _flag(s.get("no_change")) or _removes_nothing(fcn, s):
                continue  # MATLAB's apply and reverse return the data unchanged
            fields = dict(s)
            fields["Name"] = self.unique(
                f"{name}_{fcn}" + ("_reverse" if reverse else "")
            )
            fields["reverse"] = np.array([[reverse]])
            node = self.convert(f"network.processFcns.{fcn}", fields, [info], what)
            node.inputs = [current]
            self.nodes.append(node)
            current, info = node.name, node.out  # type: ignore[assignment]
        return current, info

    def layer(
        self,
        i: int,
        name: str,
        spec: dict[str, Any] | None,
        parts: list[tuple[str, Any, Any, tuple[str, TensorInfo], str]],
        iw: list[list[Any]],
        lw: list[list[Any]],
        bias: Any,
    ) -> tuple[str, TensorInfo]:
        if spec is None:
            raise self.fail(
                f"layer {i + 1} of the network has no settings; save it again from MATLAB."
            )
        for key in ("netInputParam", "transferParam"):
            extra = _fields(spec.get(key))
            if extra:
                raise self.fail(
                    f"layer {i + 1} ('{name}') sets {key} fields {sorted(extra)}, which mat2torch does not "
                    "convert; reset them to the defaults in MATLAB and save again."
                )
        transfer, net_input = _text(spec.get("transferFcn")), _text(
            spec.get("netInputFcn")
        )
        what = f"layer {i + 1} ('{name}')"
        for key, fcn in (("transferFcn", transfer), ("netInputFcn", net_input)):
            if lookup(f"network.{key}.{fcn}") is None:
                raise self.fail(
                    f"{what} uses {key} '{fcn}', which mat2torch does not convert ({SUPPORTED_HINT}); "
                    "retrain the network with a supported function."
                )
        if not parts:
            raise self.fail(
                f"{what} has no input or layer connected; connect it in MATLAB."
            )
        folded = None
        if net_input == "netsum":
            for index, part in enumerate(parts):
                if _text((_fields(part[2]) or {}).get("weightFcn")) == "dotprod":
                    folded = parts.pop(index)
                    break
        args: list[str] = []
        infos: list[TensorInfo] = []
        for kind, (r, c), wspec, (src, info), source_what in parts:
            ws = _fields(wspec) or {}
            fcn = _text(ws.get("weightFcn"))
            extra = _fields(ws.get("weightParam"))
            if extra:
                raise self.fail(
                    f"{kind}{{{r + 1},{c + 1}}} sets weightParam fields {sorted(extra)}, which mat2torch does "
                    "not convert; reset them to the defaults in MATLAB and save again."
                )
            values = (iw if kind == "IW" else lw)[r][c]
            label = f"{name}_{kind}{c + 1}"
            fields = {
                "Name": self.unique(label),
                "weight": None if _empty(values) else values,
                "comment": f"{kind}{{{r + 1},{c + 1}}}: weights from {source_what} into layer {r + 1}",
            }
            node = self.convert(
                f"network.weightFcn.{fcn}", fields, [info], f"{kind}{{{r + 1},{c + 1}}}"
            )
            node.inputs = [src]
            self.nodes.append(node)
            args.append(node.name)
            infos.append(node.out)  # type: ignore[arg-type]
        size = _number(spec, "size", self.where)
        if size <= 0:
            raise self.fail(
                f"{what} has no neurons (size 0): the network was saved before it was configured "
                "or trained; train it (or configure(net, x, t)) in MATLAB and save it again."
            )
        fields = {
            "Name": name,
            "transferFcn": transfer,
            "netInputFcn": net_input,
            "size": np.array([[size]]),
            "b": None if bias is None or _empty(bias) else bias,
            "weight": None,
        }
        inputs = list(args)
        if folded is not None:
            kind, (r, c), _, (src, info), source_what = folded
            values = (iw if kind == "IW" else lw)[r][c]
            if _empty(values):
                raise self.fail(
                    f"{kind}{{{r + 1},{c + 1}}} stores no weights; save the trained network again."
                )
            fields["weight"] = values
            fields["comment"] = f"{kind}{{{r + 1},{c + 1}}} (from {source_what})" + (
                f" and b{{{i + 1}}}" if bias is not None else ""
            )
            inputs = [src, *args]
            infos = [info, *infos]
        if bias is not None and _empty(bias):
            raise self.fail(
                f"b{{{i + 1}}} stores no values; save the trained network again."
            )
        node = self.convert(f"network.transferFcn.{transfer}", fields, infos, what)
        if transfer in self.explained and net_input == "netsum":
            node.forward_comment = ""  # the formula is said once, at its first use
        self.explained.add(transfer)
        node.inputs = inputs
        self.nodes.append(node)
        return node.name, node.out  # type: ignore[return-value]


def _removes_nothing(fcn: str, settings: dict[str, Any]) -> bool:
    key = {"removeconstantrows": "remove", "removerows": "remove_ind"}.get(fcn)
    return key is not None and is_empty(settings.get(key))


def _flag(value: Any) -> bool:
    return not _empty(value) and bool(np.asarray(value).ravel()[0])
