"""Regenerate generated_examples/ and docs/supported-layers.md; --check reports drift.

    python scripts/generate_examples.py          # rewrite
    python scripts/generate_examples.py --check  # exit 1 and print a diff if anything changed

Examples come from the project's own shipped network (examples/, with weights) and from
real networks in ../shared/corpus (model.py only: their weights are not ours to
redistribute). Output is byte-identical across runs and PYTHONHASHSEED values.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from codegen import api  # noqa: E402
from codegen.docs import supported_layers_markdown  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
OUT = REPO / "generated_examples"
FIX = "python scripts/generate_examples.py"


@dataclass(frozen=True)
class Example:
    folder: str
    source: Path
    variable: str | None = None
    weights: bool = False  # only for networks the project may redistribute


EXAMPLES = [
    Example("tiny_cnn", REPO / "examples" / "tiny_cnn.mat", weights=True),
    Example("ccn_net", CORPUS / "dltoolbox" / "ccn_net.mat"),
    Example(
        "yusuf_trainedNetwork_1", CORPUS / "dltoolbox" / "yusuf_trainedNetwork_1.mat"
    ),
    Example("fuma28_trainedNet", CORPUS / "dltoolbox" / "fuma28_trainedNet.mat"),
    Example(
        "korniarp_lgraph",
        CORPUS / "dltoolbox" / "korniarp_lgraph.mat",
        variable="lgraph",
    ),
    Example("resunet_net", CORPUS / "dltoolbox" / "resunet_net.mat"),
    Example(
        "faultdet_TrainedModel", CORPUS / "dltoolbox" / "faultdet_TrainedModel.mat"
    ),
    Example("tsx_transformer_demo", CORPUS / "dltoolbox" / "tsx_transformer_demo.mat"),
    Example("dncnn_sigma25", CORPUS / "matconvnet" / "dncnn_sigma25.mat"),
    Example("dncnn_dagnn_epoch50", CORPUS / "matconvnet" / "dncnn_dagnn_epoch50.mat"),
    Example("dcfnet_net", CORPUS / "matconvnet" / "dcfnet_net.mat"),
]


def expected_files() -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    for ex in EXAMPLES:
        if not ex.source.is_file():
            raise SystemExit(
                f"missing example source {ex.source}; the corpus must be at {CORPUS}"
            )
        result = api.convert_file(ex.source, ex.variable)
        files[OUT / ex.folder / "model.py"] = result.source.encode()
        files[OUT / ex.folder / "README.md"] = result.readme.encode()
        if ex.weights and result.has_weights:
            files[OUT / ex.folder / "model.safetensors"] = result.tensors
    files[REPO / "docs" / "supported-layers.md"] = supported_layers_markdown().encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing"
    )
    args = parser.parse_args(argv)
    files = expected_files()
    managed = {p for p in OUT.rglob("*") if p.is_file()}
    stale = sorted(managed - set(files))
    if not args.check:
        for path in stale:
            path.unlink()
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(f"wrote {len(files)} files")
        return 0
    drift = []
    for path, data in sorted(files.items()):
        old = path.read_bytes() if path.exists() else b""
        if old != data:
            drift.append(path)
            if path.suffix in (".py", ".md"):
                sys.stdout.writelines(
                    difflib.unified_diff(
                        old.decode().splitlines(keepends=True),
                        data.decode().splitlines(keepends=True),
                        str(path.relative_to(REPO)),
                        f"{path.relative_to(REPO)} (regenerated)",
                    )
                )
            else:
                print(f"{path.relative_to(REPO)}: contents differ")
    for path in stale:
        drift.append(path)
        print(f"{path.relative_to(REPO)}: no longer generated")
    if drift:
        print(f"\n{len(drift)} generated file(s) out of date; fix with: {FIX}")
        return 1
    print(f"{len(files)} generated files up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
