"""Command line: argument parsing only; the work is in codegen.api."""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from codegen import __version__, api, isolate, progress
from codegen.errors import ConversionError
from codegen.layers.registry import registrations


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mat2torch",
        description="Convert a neural network saved by MATLAB (.mat) into a readable PyTorch model.py and model.safetensors.",
    )
    parser.add_argument(
        "--version", action="version", version=f"mat2torch {__version__}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an unexpected error",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    conv = sub.add_parser(
        "convert", help="write DIR/model.py, DIR/model.safetensors and DIR/README.md"
    )
    conv.add_argument("file", help="a .mat file (v7 or v7.3)")
    conv.add_argument(
        "-o",
        "--output",
        default=".",
        help="output directory (default: current directory)",
    )
    conv.add_argument(
        "--variable",
        metavar="PATH",
        help="which network, as listed by `mat2torch inspect`",
    )
    conv.add_argument(
        "--all",
        action="store_true",
        help="convert every network in the file, each into DIR/<name>/ (one read of the file)",
    )
    conv.add_argument(
        "--class-name", metavar="NAME", help="name of the generated nn.Module class"
    )
    conv.add_argument(
        "--force", action="store_true", help="overwrite existing output files"
    )
    conv.add_argument(
        "--stub-unsupported",
        action="store_true",
        help="turn layers mat2torch cannot convert (user-defined classes) into stubs to complete by hand",
    )
    conv.add_argument(
        "--no-readme",
        action="store_true",
        help="do not write DIR/README.md (layer table, graph and conventions for review)",
    )
    conv.add_argument(
        "--plugin",
        metavar="FILE.py",
        action="append",
        default=[],
        help="a Python file registering converters for your own layer classes "
        "(docs/plugins.md); repeatable. It is run: use only files you trust",
    )
    conv.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    insp = sub.add_parser(
        "inspect", help="list the networks in a .mat file and their layers"
    )
    insp.add_argument("file", help="a .mat file (v7 or v7.3)")
    insp.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (schema in docs/inspect-json.md)",
    )
    insp.add_argument(
        "--plugin",
        metavar="FILE.py",
        action="append",
        default=[],
        help="as for convert (docs/plugins.md); repeatable",
    )
    for command in (conv, insp):
        command.add_argument(
            "--timeout",
            metavar="SECONDS",
            type=float,
            default=1800.0,
            help="stop a conversion that takes longer (default: 1800)",
        )
        command.add_argument(
            "--in-process",
            action="store_true",
            help="run in this process instead of a child process that contains crashes",
        )
        command.add_argument(
            "--max-memory",
            metavar="SIZE",
            type=_size,
            help="largest total size the file's arrays may declare, e.g. 8G or 500M "
            "(default: 4 × the file size + 1G); larger files are refused before reading",
        )

    sub.add_parser("layers", help="list the MATLAB layer classes mat2torch converts")

    ver = sub.add_parser(
        "verify",
        help="run the converted model and compare it with MATLAB's outputs (exit 0 agree, 1 differ, 2 cannot run)",
    )
    ver.add_argument("file", help="the network's .mat file")
    source = ver.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--reference",
        metavar="REF.mat",
        help="inputs X (X1, X2...) and MATLAB's outputs Y (Y1...), optionally a struct "
        "'activations' (docs/verify.md)",
    )
    source.add_argument(
        "--random",
        metavar="N",
        type=int,
        help="compare with mat2torch's NumPy reference of MATLAB semantics on N random inputs",
    )
    ver.add_argument(
        "--model-dir",
        metavar="DIR",
        help="check DIR/model.py and DIR/model.safetensors instead of converting in memory",
    )
    ver.add_argument("--variable", metavar="PATH", help="which network in the file")
    ver.add_argument(
        "--plugin",
        metavar="FILE.py",
        action="append",
        default=[],
        help="as for convert (docs/plugins.md); repeatable",
    )
    ver.add_argument(
        "--rtol",
        type=float,
        default=None,
        help="relative tolerance, times max |reference| (default 1e-4)",
    )
    ver.add_argument(
        "--atol", type=float, default=None, help="absolute tolerance (default 1e-6)"
    )
    return parser


def _size(text: str) -> int:
    """ "8G", "500M", "64K" or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; write e.g. 8G, 500M or a number of bytes"
        )
    scale = 1024 ** "_KMGT".index(match.group(2).upper() or "_")
    return int(float(match.group(1)) * scale)


def _layers() -> None:
    regs = registrations()
    width = max(len(name) for name in regs)
    for classname, reg in regs.items():
        emitted = ", ".join(reg.ops) or "dropped (training only)"
        print(f"{classname:<{width}}  {emitted}")


def _inspect(report: dict[str, Any]) -> None:
    networks = report["networks"]
    if not networks:
        print(report["nothing_found"])
        return
    print(
        f"{report['file']}: {len(networks)} network{'s' if len(networks) != 1 else ''}"
    )
    for net in networks:
        print()
        print(f"{net['path']}  ({net['kind']})")
        if net["error"]:
            print(f"  cannot convert: {net['error']}")
            continue
        inputs = "; ".join(f"{name}: {desc}" for name, desc in net["inputs"])
        state = "trained" if net["trained"] else "UNTRAINED (no stored weights)"
        print(
            f"  layers: {len(net['layers'])}   inputs: {inputs}   parameters: {net['parameters']:,}   {state}"
        )
        if net.get("nonfinite"):
            print(f"  WARNING: {net['nonfinite']}")
        if len(net.get("outputs", ())) > 1:
            print(
                f"  outputs (forward returns them in this order): {', '.join(net['outputs'])}"
            )
        width = max(len(name) for name, *_ in net["layers"])
        cls_width = max(len(cls) for _, cls, *_ in net["layers"])
        for name, cls, op, props in net["layers"]:
            print(f"    {name:<{width}}  {cls:<{cls_width}}  → {op}  {props}".rstrip())


def _verify(args: argparse.Namespace) -> int:
    from codegen import verify

    rtol = verify.DEFAULT_RTOL if args.rtol is None else args.rtol
    atol = verify.DEFAULT_ATOL if args.atol is None else args.atol
    if args.reference is not None:
        report = verify.verify_reference(
            args.file,
            args.reference,
            args.model_dir,
            args.variable,
            rtol,
            atol,
            plugins=args.plugin,
        )
    else:
        if args.model_dir is not None:
            raise ConversionError(
                "--model-dir goes with --reference; --random checks the conversion made in memory."
            )
        report = verify.verify_random(
            args.file, args.random, args.variable, rtol, atol, plugins=args.plugin
        )
    print(verify.format_report(report))
    return report.exit_code


BUG_REPORT = (
    "this is a bug in mat2torch {version}, not a problem with your file's contents as far "
    "as mat2torch can tell; rerun with --debug for the traceback and report it with the "
    "command you ran."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("layers", "verify") or args.debug or args.in_process:
        return _guarded(args)
    try:
        return isolate.run(
            lambda: _guarded(args),
            file=args.file,
            out_dir=getattr(args, "output", None),
            budget=isolate.budget_for(args.file, args.max_memory),
            timeout=args.timeout,
            error=_error,
        )
    except KeyboardInterrupt:
        return 130


def _guarded(args: argparse.Namespace) -> int:
    """The command, with interruptions and unexpected errors as one line each."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("mat2torch: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except MemoryError:
        _error(
            f"mat2torch: error: {args.file}: converting it needs more memory than "
            "--max-memory allows; the file is damaged, or pass a larger --max-memory. "
            "Nothing was written."
        )
        return 2
    except Exception as exc:
        if args.debug:
            raise
        _error(
            f"mat2torch: internal error ({type(exc).__name__}: {exc}); "
            + BUG_REPORT.format(version=__version__)
        )
        return 1


def _error(message: str) -> None:
    """One line on stderr, whatever the terminal's encoding (file names may not be UTF-8)."""
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    text = message.encode(encoding, "backslashreplace").decode(encoding, "replace")
    print(text, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "inspect":
            if args.json:
                from codegen import inspect_json

                document = inspect_json.report(args.file, args.plugin)
                sys.stdout.write(inspect_json.dumps(document))
            else:
                with progress.shown_on(sys.stderr if sys.stderr.isatty() else None):
                    report = api.inspect_file(args.file, args.plugin, args.max_memory)
                _inspect(report)
            return 0
        if args.command == "layers":
            _layers()
            return 0
        if args.command == "verify":
            return _verify(args)
        if args.all and (args.variable is not None or args.class_name is not None):
            raise ConversionError(
                "--all converts every network under its default name; drop "
                "--variable and --class-name, or drop --all."
            )
        shown = sys.stderr if sys.stderr.isatty() and not args.quiet else None
        with progress.shown_on(shown):
            if args.all:
                outcomes = api.convert_all(
                    args.file,
                    args.output,
                    args.force,
                    args.stub_unsupported,
                    args.plugin,
                    readme=not args.no_readme,
                )
            else:
                result = api.convert(
                    args.file,
                    args.output,
                    args.variable,
                    args.class_name,
                    args.force,
                    args.stub_unsupported,
                    args.plugin,
                    readme=not args.no_readme,
                    max_memory=args.max_memory,
                )
        if args.all:
            return _report_all(args, outcomes)
    except ConversionError as exc:
        if args.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        _error(f"mat2torch: error: {exc}")
        return 2
    except BrokenPipeError:  # `mat2torch inspect net.mat | head`
        sys.stderr.close()
        return 0
    except (
        OSError
    ) as exc:  # the output directory: a file, not writable, a read-only tree
        where = (
            exc.filename if exc.filename is not None else args.__dict__.get("output")
        )
        _error(
            f"mat2torch: error: cannot write {where} ({exc.strerror or exc}); choose an "
            "output directory you can write with -o DIR. Nothing was written."
        )
        return 2
    if args.quiet:
        return 0
    for note in result.warnings:
        print(f"mat2torch: warning: {note}", file=sys.stderr)
    g = result.graph
    readme = "" if args.no_readme else f", {args.output}/README.md"
    if result.has_weights:
        print(
            f"Wrote {args.output}/model.py ({g.class_name}, {len(g.nodes)} layers), "
            f"{args.output}/model.safetensors{readme}"
        )
    else:
        print(
            f"Wrote {args.output}/model.py ({g.class_name}, {len(g.nodes)} layers, "
            f"untrained: no weights to write){readme}"
        )
    return 0


def _report_all(args: argparse.Namespace, outcomes: list[api.NetworkOutcome]) -> int:
    """One line per network, then one summary line; errors always, the rest unless --quiet."""
    failed = [o for o in outcomes if o.error is not None]
    for o in outcomes:
        where = f"{args.output}/{o.folder}"
        if o.error is not None:
            _error(f"mat2torch: error: {o.error} ('{o.variable}' was not converted)")
            continue
        if args.quiet:
            continue
        for note in o.warnings:
            print(f"mat2torch: warning: {note}", file=sys.stderr)
        weights = (
            f"and {where}/model.safetensors"
            if o.has_weights
            else "(untrained: no weights to write)"
        )
        print(
            f"Wrote {where}/model.py ({o.class_name}, {o.layers} layers, from '{o.variable}') {weights}"
        )
    done = len(outcomes) - len(failed)
    if failed:
        _error(
            f"mat2torch: {done} of {len(outcomes)} networks converted into {args.output}; "
            f"{len(failed)} could not be: "
            + ", ".join(f"'{o.variable}'" for o in failed)
            + "."
        )
        return 2
    if not args.quiet:
        print(
            f"{done} network{'s' if done != 1 else ''} converted, from one read of "
            f"the file, into {args.output}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
