"""The public Python API: inspect and convert MATLAB .mat networks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import jinja2

from codegen import output, progress, weights
from codegen import plugins as plugin_api
from codegen.errors import ConversionError
from codegen.importers import detector_meta, dltoolbox
from codegen.ir import Graph
from codegen.passes.names import (
    assign_names,
    check_class_name,
    default_class_name,
    default_class_names,
    path_words,
    safe_class_name,
)
from codegen.readers import mat

MATCONVNET_KINDS = ("SimpleNN", "DagNN")
SHALLOW_KINDS = ("network", "Autoencoder")


class Conversion:
    """A converted network: its graph, model.py's text, README.md and the notes.

    model.py and README.md name the weight arrays holding NaN or Inf. Weights still in
    the file (large v7.3 datasets) are counted as they are written, so for those the
    texts are made after :meth:`write_weights`, or when first asked for (which then
    reads the weights once more to count).
    """

    def __init__(
        self,
        graph: Graph,
        weights_mode: str,
        render: Callable[[], tuple[str, list[str], str]],
        defer: bool = False,
        source: mat.MatFile | None = None,
    ) -> None:
        self.graph = graph
        self._source = source  # checked unchanged once the weights are written
        # 'all', 'partial' or 'none' (see weights.weights_mode)
        self.weights_mode = weights_mode
        self._render = render
        self._rendered: tuple[str, list[str], str] | None = None
        if not defer:
            self._rendered = render()

    def _texts(self) -> tuple[str, list[str], str]:
        if self._rendered is None:
            self._rendered = self._render()
        return self._rendered

    @property
    def source(self) -> str:
        """model.py's text."""
        return self._texts()[0]

    @property
    def warnings(self) -> list[str]:
        return self._texts()[1]

    @property
    def readme(self) -> str:
        """README.md for reviewers: layer table, graph, conventions translated."""
        return self._texts()[2]

    @property
    def has_weights(self) -> bool:
        """False for an untrained network with no stored values: no model.safetensors."""
        return self.weights_mode != "none"

    def write_weights(self, handle: BinaryIO) -> None:
        """Stream model.safetensors to ``handle``, one tensor at a time; refused if the
        source file changed meanwhile (weights still in the file are read now)."""
        weights.write(self.graph, handle)
        if self._source is not None:
            self._source.check_unchanged()

    @property
    def tensors(self) -> bytes:
        """model.safetensors as bytes (b"" when there are no weights); for small
        networks and tests: :meth:`write_weights` never holds the whole file."""
        if not self.has_weights:
            return b""
        data = weights.to_bytes(self.graph)
        if self._source is not None:
            self._source.check_unchanged()
        return data


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
    if found.kind in SHALLOW_KINDS:
        from codegen.importers import shallow

        return shallow.import_network(found.value, found.kind, where)
    graph = dltoolbox.import_network(found.value, found.kind, where, stub_unsupported)
    detector_meta.apply(graph, found.siblings)
    return graph


def convert_file(
    path: str | Path,
    variable: str | None = None,
    class_name: str | None = None,
    stub_unsupported: bool = False,
    plugins: Sequence[str | Path] = (),
    max_memory: int | None = None,
) -> Conversion:
    """Read, import, name and render one network; writes nothing.

    ``stub_unsupported``: unsupported layers (user-defined classes, custom MatConvNet
    types) become explicit stubs that raise NotImplementedError until ported, instead
    of failing the conversion. ``plugins``: Python files registering converters and
    templates for user-defined layer classes (docs/plugins.md); loading one runs it.
    """
    with plugin_api.loaded(plugins), _template_errors(Path(path).name, plugins):
        return _convert_file(
            path, variable, class_name, stub_unsupported, plugins, max_memory
        )


def _convert_file(
    path: str | Path,
    variable: str | None,
    class_name: str | None,
    stub_unsupported: bool,
    plugins: Sequence[str | Path],
    max_memory: int | None = None,
) -> Conversion:
    file = mat.load(path, max_memory, networks_only=True)
    found = select(file, variable)
    return convert_network(
        file,
        found,
        class_name,
        stub_unsupported,
        name_variable=variable is not None,
        name_class=class_name is not None,
        plugins=plugins,
    )


def convert_network(
    file: mat.MatFile,
    found: mat.FoundNetwork,
    class_name: str | None = None,
    stub_unsupported: bool = False,
    name_variable: bool = True,
    name_class: bool = True,
    plugins: Sequence[str | Path] = (),
) -> Conversion:
    """Import, name and render one network of a file already read; writes nothing.

    ``name_variable`` / ``name_class``: whether the regenerate command in the header
    names the variable and the class (needed when they are not the defaults).
    ``plugins``: the plugin files already loaded, named in that command.
    """
    from codegen import emit  # black and Jinja: only conversion needs them, not inspect

    where = _where(file, found.path)
    progress.stage(f"converting '{found.path}'")
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
    if name_variable:
        command += f" --variable {found.path}"
    if name_class and class_name is not None:
        command += f" --class-name {class_name}"
    if stub_unsupported:
        command += " --stub-unsupported"
    for plugin in plugins:
        command += f" --plugin {Path(plugin).name}"
    graph.command = command
    assign_names(graph, reserved=helpers)
    notes = [f"{where}: {note}" for note in graph.left_out]
    stubs = [n for n in graph.nodes if n.op == "stub"]
    builtin = [n for n in stubs if n.attrs.get("toolbox") and not n.attrs["function"]]
    ported = [n for n in stubs if n not in builtin]
    if ported:
        listed = ", ".join(f"{n.name!r} ({n.matlab_class})" for n in ported)
        notes.append(
            f"{where}: layers {listed} have no code in the file and became stubs that raise "
            "NotImplementedError; port their MATLAB code (predict(), or the function shown) into "
            "the stub classes in model.py."
        )
    if builtin:
        listed = ", ".join(f"{n.name!r} ({n.matlab_class})" for n in builtin)
        notes.append(
            f"{where}: built-in MATLAB layers {listed} are not supported by mat2torch yet and "
            "became stubs that raise NotImplementedError; implement each in its stub class in "
            "model.py from the class's page in MATLAB's documentation."
        )
    mode = weights.weights_mode(graph)

    def render() -> tuple[str, list[str], str]:
        texts = list(notes)
        bad_values = weights.nonfinite_note(graph)
        if bad_values:
            graph.notes.append(f"WARNING: {bad_values}")
            texts.append(f"{where}: {bad_values}")
        if mode == "none":
            texts.append(
                f"{where}: the network is UNTRAINED (the file stores no weights); model.py is the architecture "
                "with PyTorch's default initialisation and no model.safetensors is written."
            )
        elif mode == "partial":
            missing = weights.missing_keys(graph)
            texts.append(
                f"{where}: the network is UNTRAINED ({len(missing)} of {len(weights.expected_keys(graph))} weight "
                "arrays have no stored values); those keep PyTorch's default initialisation and are left out of "
                "model.safetensors (listed in UNTRAINED_KEYS)."
            )
        with _template_errors(file.path.name, plugins):
            source = emit.render_model(graph)
        from codegen.readme import render_readme

        return source, texts, render_readme(graph, source)

    # Plugins' templates are loaded only for the conversion: render now with them.
    defer = not plugins and weights.pending_nonfinite(graph)
    return Conversion(graph, mode, render, defer, source=file)


@contextmanager
def _template_errors(name: str, plugins: Sequence[str | Path]) -> Iterator[None]:
    """A plugin template that renders invalid code is the plugin's error, named so."""
    from codegen import emit

    try:
        yield
    except (jinja2.TemplateError, emit.TemplateError) as exc:
        if not plugins:
            raise
        detail = " ".join(str(exc).split("\n")[0].split())
        raise ConversionError(
            f"{name}: a plugin's template did not render valid Python "
            f"({type(exc).__name__}: {detail}); fix the template of its op."
        ) from None


@dataclass
class NetworkOutcome:
    """One network of ``convert --all``: where it went, or why it was not converted."""

    variable: str
    kind: str
    folder: str
    class_name: str = ""
    layers: int = 0
    has_weights: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # None: converted and written


def convert_all(
    path: str | Path,
    out_dir: str | Path,
    force: bool = False,
    stub_unsupported: bool = False,
    plugins: Sequence[str | Path] = (),
    readme: bool = True,
) -> list[NetworkOutcome]:
    """Convert every network in the file, from one read, each into ``out_dir/<folder>/``.

    Folders come from the meaningful part of each variable path (``lgraph_1``,
    ``Critic``), made unique. A network that cannot be converted is reported in its
    outcome and the others are still written; nothing is written if any target exists
    (without ``force``).
    """
    with plugin_api.loaded(plugins):
        return _convert_all(
            path, Path(out_dir), force, stub_unsupported, plugins, readme
        )


def _convert_all(
    path: str | Path,
    out: Path,
    force: bool,
    stub_unsupported: bool,
    plugins: Sequence[str | Path],
    readme: bool,
) -> list[NetworkOutcome]:
    file = mat.load(path, networks_only=True)
    found = mat.find_networks(file.variables)
    if not found:
        raise ConversionError(mat.nothing_found(file))
    paths = [f.path for f in found]
    folders = output_folders(paths)
    classes = default_class_names(file.path.name, paths)
    names = ("model.py", "model.safetensors") + (("README.md",) if readme else ())
    if readme:
        for folder in folders:
            _check_readme(out / folder / "README.md")
    if not force:
        for folder in folders:
            for name in names:
                if (out / folder / name).exists():
                    raise ConversionError(
                        f"{out / folder / name} already exists; pass --force to overwrite it."
                    )
    outcomes = []
    for net, folder, class_name in zip(found, folders, classes, strict=True):
        outcome = NetworkOutcome(net.path, net.kind, folder)
        outcomes.append(outcome)
        try:
            result = convert_network(
                file,
                net,
                class_name,
                stub_unsupported,
                name_variable=True,
                name_class=class_name != default_class_name(file.path.name, net.path),
                plugins=plugins,
            )
            # model.py is rendered as it is written when weights are counted then
            write_outputs(result, out / folder, readme)
        except ConversionError as exc:
            outcome.error = str(exc)
            continue
        # Keep a summary, not the weights: the next network may be as large.
        outcome.class_name = result.graph.class_name
        outcome.layers = len(result.graph.nodes)
        outcome.has_weights = result.has_weights
        outcome.warnings = result.warnings
        del result
    return outcomes


def output_folders(paths: list[str]) -> list[str]:
    """One folder name per network path: the meaningful words of the path joined by
    ``_`` (``agent.Critic.Model.any.DLTModelExternal`` → ``Critic``; ``lgraph_1`` →
    ``lgraph_1``), de-duplicated with ``_2``, ``_3``... and never empty."""
    folders: list[str] = []
    used: set[str] = set()
    for variable in paths:
        base = "_".join(path_words(variable)) or "network"
        candidate, k = base, 2
        while candidate.lower() in used:  # case-insensitive file systems
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate.lower())
        folders.append(candidate)
    return folders


def convert(
    path: str | Path,
    out_dir: str | Path,
    variable: str | None = None,
    class_name: str | None = None,
    force: bool = False,
    stub_unsupported: bool = False,
    plugins: Sequence[str | Path] = (),
    readme: bool = True,
    max_memory: int | None = None,
) -> Conversion:
    """Convert and write out_dir/model.py, out_dir/model.safetensors and (unless
    ``readme`` is false) out_dir/README.md, all or nothing."""
    out = Path(out_dir)
    targets = [out / "model.py", out / "model.safetensors"]
    if readme:
        targets.append(out / "README.md")
    if readme:
        _check_readme(out / "README.md")
    if not force:
        existing = [t for t in targets if t.exists()]
        if existing:
            raise ConversionError(
                f"{existing[0]} already exists; pass --force to overwrite it."
            )
    result = convert_file(
        path, variable, class_name, stub_unsupported, plugins, max_memory
    )
    write_outputs(result, out, readme)
    return result


def _check_readme(path: Path) -> None:
    """A README.md that mat2torch did not write is the user's: never replaced."""
    from codegen.readme import is_ours

    if path.exists() and not is_ours(path):
        raise ConversionError(
            f"{path} exists and was not written by mat2torch; convert into another "
            "directory with -o DIR, or pass --no-readme to leave it alone."
        )


def write_outputs(result: Conversion, out: Path, readme: bool = True) -> None:
    """out/model.py, out/model.safetensors (streamed) and out/README.md, as one pair:
    see :mod:`codegen.output`."""
    out.mkdir(parents=True, exist_ok=True)
    # The texts are made after the weights are written (see Conversion).
    extra: dict[Path, bytes | Callable[[], bytes]] = {}
    if readme:
        extra[out / "README.md"] = lambda: result.readme.encode()
    output.write_pair(
        out / "model.py",
        lambda: result.source.encode(),
        out / "model.safetensors",
        result.write_weights if result.has_weights else b"",
        extra,
    )


def simple_properties(node: Any) -> dict[str, Any]:
    """The node's simple attributes: numbers, text and small tuples of numbers."""
    return {
        key: value
        for key, value in node.attrs.items()
        if isinstance(value, bool | int | float | str)
        or (
            isinstance(value, tuple)
            and len(value) <= 4
            and all(isinstance(v, int | float) for v in value)
        )
    }


def key_properties(node: Any) -> str:
    """The node's simple attributes (numbers, text, small tuples) as `key=value` text."""
    return " ".join(
        f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
        for key, value in simple_properties(node).items()
    )


def inspect_file(
    path: str | Path,
    plugins: Sequence[str | Path] = (),
    max_memory: int | None = None,
) -> dict[str, Any]:
    """What `mat2torch inspect` prints, as data (``plugins`` as for :func:`convert_file`)."""
    with plugin_api.loaded(plugins):
        return _inspect_file(path, max_memory)


def _inspect_file(path: str | Path, max_memory: int | None = None) -> dict[str, Any]:
    file = mat.load(path, max_memory, networks_only=True)
    networks = []
    for found in mat.find_networks(file.variables):
        entry: dict[str, Any] = {"path": found.path, "kind": found.kind}
        try:
            graph = import_graph(found, _where(file, found.path))
            entry["layers"] = [
                (n.name, n.matlab_class, n.op, key_properties(n)) for n in graph.nodes
            ]
            entry["layer_properties"] = [
                (n.name, n.matlab_class, n.op, simple_properties(n))
                for n in graph.nodes
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
