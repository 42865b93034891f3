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

from typing import Any

import numpy as np

from codegen.errors import ConversionError
from codegen.importers.shallow_structs import (
    absent,
    cell_rows,
    flag,
    flags,
    missing,
    number,
    removes_nothing,
    struct_fields,
    text,
    weight_delays,
)
from codegen.ir import FEATURE, Graph, GraphInput, Node, TensorInfo
from codegen.layers.record import LayerRecord, text_list
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
    fields = struct_fields(value)
    if fields is None:
        raise ConversionError(
            f"{where}: the network object is empty; save the trained network again."
        )
    for key in REQUIRED:
        if key not in fields:
            missing(where, key)
    return _Builder(fields, kind, where).graph()


class _Builder:
    def __init__(self, fields: dict[str, Any], kind: str, where: str) -> None:
        self.f = fields
        self.kind = kind
        self.where = where
        self.n_in = number(fields, "numInputs", where)
        self.n_layers = number(fields, "numLayers", where)
        self.nodes: list[Node] = []
        self.taken: set[str] = set()
        self.explained: set[str] = set()

    def fail(self, what: str) -> ConversionError:
        return ConversionError(f"{self.where}: {what}")

    def cells(self, key: str, rows: int, cols: int) -> list[list[Any]]:
        try:
            return cell_rows(self.f[key], rows, cols)
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
        version = text(self.f.get("version"))
        if version not in KNOWN_VERSIONS:
            raise self.fail(
                f"the network object is stored in format version {version!r}, which mat2torch "
                f"has not seen (it reads version {', '.join(KNOWN_VERSIONS)}); load and save it "
                "again in a recent MATLAB release."
            )

    def check_static(self) -> None:
        delays = {
            key: number(self.f, key, self.where)
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
            for s in (struct_fields(c) for c in row)
        ]
        if any(delays.values()) or any(any(weight_delays(s)) for s in weights):
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
        bias_c = flags(self.f, "biasConnect", n_layers, 1, self.where)[:, 0]
        input_c = flags(self.f, "inputConnect", n_layers, n_in, self.where)
        layer_c = flags(self.f, "layerConnect", n_layers, n_layers, self.where)
        output_c = flags(self.f, "outputConnect", 1, n_layers, self.where)[0]
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
            s = struct_fields(spec)
            if s is None:
                raise self.fail(
                    f"input {j + 1} of the network has no settings; save it again from MATLAB."
                )
            if not absent(s.get("feedbackOutput")):
                raise self.fail(
                    f"input {j + 1} is the feedback of an output (an open-loop NARX network); "
                    "mat2torch converts static networks only."
                )
            size = number(s, "size", self.where)
            if size <= 0:
                raise self.fail(
                    f"input {j + 1} of the network has size 0: the network was saved before it was "
                    "configured or trained; train it (or configure(net, x, t)) in MATLAB and save it again."
                )
            name = self.unique(text(s.get("name")) or f"input{j + 1}")
            info = TensorInfo(FEATURE, (size,))
            graph.inputs.append(GraphInput(name, info))
            sources.append(self.process(name, info, s, f"input {j + 1}", reverse=False))

        names = [
            self.unique(
                text((struct_fields(spec) or {}).get("name")) or f"layer{i + 1}"
            )
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
                struct_fields(layers[i]),
                parts,
                iw,
                lw,
                b[i] if bias_c[i] else None,
            )

        for i in map(int, np.flatnonzero(output_c)):
            s = struct_fields(outputs[i])
            if s is None:
                raise self.fail(
                    f"output {i + 1} of the network has no settings; save it again from MATLAB."
                )
            mode = text(s.get("feedbackMode")) or "none"
            if mode != "none":
                raise self.fail(
                    f"output of layer {i + 1} has feedbackMode '{mode}' (a NARX network); "
                    "mat2torch converts static networks only."
                )
            label = text(s.get("name")) or f"output{i + 1}"
            final, info = self.process(
                label,
                done[i][1],
                s,
                f"output of layer {i + 1}",
                reverse=True,
                source=done[i][0],
            )
            size = number(s, "size", self.where)
            if info.channels != size:
                raise self.fail(
                    f"the output of layer {i + 1} has {info.channels} rows after its processFcns "
                    f"are undone, but the network says {size}; save the network again from MATLAB."
                )
            graph.outputs.append(final)
        if not graph.outputs:
            raise self.fail("the network has no output (outputConnect is all false).")
        graph.nodes = self.nodes
        network_name = text(self.f.get("name"))
        said = f"MATLAB network name: {network_name!r}. " if network_name else ""
        if self.kind == "Autoencoder":
            graph.notes.append(
                f"{said}forward(x) is MATLAB's predict(autoenc, x.T).T for x of shape "
                f"(N, features); encode(autoenc, x.T).T is the output of layer 1 ({names[0]!r})."
            )
        else:
            graph.notes.append(
                f"{said}forward(x) is MATLAB's sim(net, x.T).T for x of shape (N, features)."
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
            [struct_fields(c) for c in settings_value.ravel(order="F")]
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
            if flag(s.get("no_change")) or removes_nothing(fcn, s):
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
            extra = struct_fields(spec.get(key))
            if extra:
                raise self.fail(
                    f"layer {i + 1} ('{name}') sets {key} fields {sorted(extra)}, which mat2torch does not "
                    "convert; reset them to the defaults in MATLAB and save again."
                )
        transfer, net_input = text(spec.get("transferFcn")), text(
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
                if text((struct_fields(part[2]) or {}).get("weightFcn")) == "dotprod":
                    folded = parts.pop(index)
                    break
        args: list[str] = []
        infos: list[TensorInfo] = []
        for kind, (r, c), wspec, (src, info), source_what in parts:
            ws = struct_fields(wspec) or {}
            fcn = text(ws.get("weightFcn"))
            extra = struct_fields(ws.get("weightParam"))
            if extra:
                raise self.fail(
                    f"{kind}{{{r + 1},{c + 1}}} sets weightParam fields {sorted(extra)}, which mat2torch does "
                    "not convert; reset them to the defaults in MATLAB and save again."
                )
            values = (iw if kind == "IW" else lw)[r][c]
            label = f"{name}_{kind}{c + 1}"
            fields = {
                "Name": self.unique(label),
                "weight": None if absent(values) else values,
                "comment": f"{kind}{{{r + 1},{c + 1}}}: weights from {source_what} into layer {r + 1}",
            }
            node = self.convert(
                f"network.weightFcn.{fcn}", fields, [info], f"{kind}{{{r + 1},{c + 1}}}"
            )
            node.inputs = [src]
            self.nodes.append(node)
            args.append(node.name)
            infos.append(node.out)  # type: ignore[arg-type]
        size = number(spec, "size", self.where)
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
            "b": None if bias is None or absent(bias) else bias,
            "weight": None,
        }
        inputs = list(args)
        if bias is not None:
            fields["comment"] = f"b{{{i + 1}}}: the bias of layer {i + 1}"
        if folded is not None:
            kind, (r, c), _, (src, info), source_what = folded
            values = (iw if kind == "IW" else lw)[r][c]
            if absent(values):
                raise self.fail(
                    f"{kind}{{{r + 1},{c + 1}}} stores no weights; save the trained network again."
                )
            fields["weight"] = values
            fields["comment"] = f"{kind}{{{r + 1},{c + 1}}} (from {source_what})" + (
                f" and b{{{i + 1}}}" if bias is not None else ""
            )
            inputs = [src, *args]
            infos = [info, *infos]
        if bias is not None and absent(bias):
            raise self.fail(
                f"b{{{i + 1}}} stores no values; save the trained network again."
            )
        matlab_name = text(spec.get("name"))
        if matlab_name and matlab_name != name:  # a repeated name made unique
            fields["comment"] = f"layer {i + 1}, named {matlab_name!r} in MATLAB" + (
                f": {fields['comment']}" if fields.get("comment") else ""
            )
        node = self.convert(f"network.transferFcn.{transfer}", fields, infos, what)
        if transfer in self.explained and net_input == "netsum":
            node.forward_comment = ""  # the formula is said once, at its first use
        self.explained.add(transfer)
        node.inputs = inputs
        self.nodes.append(node)
        return node.name, node.out  # type: ignore[return-value]
