"""Command line: argument parsing only; the work is in codegen.api."""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Sequence

from codegen import __version__, api, isolate
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
        "convert", help="write DIR/model.py and DIR/model.safetensors"
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

    insp = sub.add_parser(
        "inspect", help="list the networks in a .mat file and their layers"
    )
    insp.add_argument("file", help="a .mat file (v7 or v7.3)")
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


def _inspect(path: str, max_memory: int | None = None) -> None:
    report = api.inspect_file(path, max_memory)
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


BUG_REPORT = (
    "this is a bug in mat2torch {version}, not a problem with your file's contents as far "
    "as mat2torch can tell; rerun with --debug for the traceback and report it with the "
    "command you ran."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "layers" or args.debug or args.in_process:
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
            _inspect(args.file, args.max_memory)
            return 0
        if args.command == "layers":
            _layers()
            return 0
        result = api.convert(
            args.file,
            args.output,
            args.variable,
            args.class_name,
            args.force,
            args.stub_unsupported,
            args.max_memory,
        )
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
    for note in result.warnings:
        print(f"mat2torch: warning: {note}", file=sys.stderr)
    g = result.graph
    if result.has_weights:
        print(
            f"Wrote {args.output}/model.py ({g.class_name}, {len(g.nodes)} layers) and {args.output}/model.safetensors"
        )
    else:
        print(
            f"Wrote {args.output}/model.py ({g.class_name}, {len(g.nodes)} layers, untrained: no weights to write)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
