"""README.md beside every model.py: layer table, mermaid graph, conventions.

The mermaid block is checked by a small parser of the flowchart subset the README uses
(node boxes with quoted labels, ``a --> b`` edges): ids unique, every edge between
declared boxes, labels free of anything that could end the label or the block.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codegen import api
from codegen.layers.registry import lookup
from codegen.readme import mermaid_label
from codegen.testing import dltwriter as w
from tests.conftest import REPO, corpus_file

EXAMPLES = sorted((REPO / "generated_examples").glob("*/model.py"))

NODE = re.compile(r'^    ([A-Za-z]\w*)(\(\[|\[)"([^"\n]*)"(\]\)|\])$')
EDGE = re.compile(r"^    ([A-Za-z]\w*) --> ([A-Za-z]\w*)$")
ENTITY = re.compile(r"#\d+;")


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(labels by id, edges) of a README flowchart; AssertionError if malformed."""
    blocks = re.findall(r"^```mermaid\n(.*?)\n```$", text, flags=re.S | re.M)
    assert len(blocks) == 1, "exactly one mermaid block"
    lines = blocks[0].split("\n")
    assert lines[0] == "flowchart TD"
    labels: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:]:
        node, edge = NODE.match(line), EDGE.match(line)
        if node:
            ident, opening, label, closing = node.groups()
            assert (opening, closing) in (("[", "]"), ("([", "])")), line
            assert ident not in labels, f"duplicate box {ident}"
            bare = ENTITY.sub("", label.replace("<br/>", " "))
            assert not set(bare) & set('"<>`#;|\n'), f"unsafe label {label!r}"
            labels[ident] = label
        elif edge:
            edges.append((edge.group(1), edge.group(2)))
        else:
            raise AssertionError(f"not a flowchart line: {line!r}")
    for a, b in edges:
        assert a in labels and b in labels, f"edge {a} --> {b} to an undeclared box"
    assert len(set(edges)) == len(edges), "duplicate edge"
    return labels, edges


def table_rows(text: str) -> list[list[str]]:
    """The data rows of the layer table (cells split on unescaped pipes)."""
    section = text.split("## Layers", 1)[1].split("## Graph", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[1:]]
    return cells


def unspan(cell: str) -> str:
    return cell.strip("`").strip().replace("\\|", "|")


def test_every_generated_example_has_a_well_formed_readme() -> None:
    assert EXAMPLES, "no generated examples"
    for model in EXAMPLES:
        readme = (model.parent / "README.md").read_text()
        labels, edges = parse_mermaid(readme)
        rows = table_rows(readme)
        assert rows, model
        assert all(len(r) == 6 for r in rows), f"{model.parent.name}: ragged table"
        source = model.read_text()
        for _name, matlab_class, attribute, construct, _size, _values in rows:
            registration = lookup(unspan(matlab_class), stub_unsupported=True)
            assert registration is not None, f"{matlab_class} is not a registry key"
            # the Python name, where given, is a variable or attribute model.py has
            if attribute:
                name = unspan(attribute)
                assert re.search(rf"\b{re.escape(name)}", source), attribute
            assert unspan(construct), f"{attribute}: no PyTorch construct named"
        assert len(labels) <= len(rows)
        if len(rows) > 1:
            assert edges


def test_layer_table_and_graph_follow_the_conversion() -> None:
    result = api.convert_file(corpus_file("dltoolbox", "ccn_net.mat"))
    rows = table_rows(result.readme)
    assert [unspan(r[0]) for r in rows] == [n.name for n in result.graph.nodes]
    by_name = {unspan(r[0]): r for r in rows}
    assert unspan(by_name["conv_1"][3]) == "nn.Conv2d"
    assert by_name["conv_1"][4] == "(N, 10, 141, 141)"
    assert by_name["conv_1"][5] == "3,010"  # 3×3×3×10 weights + 10 biases
    assert unspan(by_name["fc_2"][3]) == "nn.Linear"
    labels, edges = parse_mermaid(result.readme)
    assert len(labels) == len(rows) and len(edges) == len(rows) - 1
    # the classification output layer is named as left out, with the class names
    assert "`classoutput`" in result.readme
    assert "`bookshelf_large`" in result.readme


def test_conventions_list_what_this_network_touches(tmp_path: Path) -> None:
    readme = (REPO / "generated_examples" / "tiny_cnn" / "README.md").read_text()
    conventions = readme.split("## MATLAB conventions translated", 1)[1]
    assert "F.pad" in conventions and "`conv2`" in conventions  # asymmetric padding
    assert "flatten" in conventions and "`fc`" in conventions  # flatten order
    assert "zscore" in conventions  # input normalization
    assert "`classoutput`" in conventions  # dropped training layer
    # a network without any of these says so rather than listing nothing
    path = tmp_path / "plain.mat"
    layers = [
        w.feature_input("in", 3, "none"),
        w.fully_connected("fc", np.ones((2, 3), np.float32), np.zeros(2, np.float32)),
    ]
    w.write_mat(path, {"net": w.dlnetwork(layers, [("in", "fc")])})
    plain = api.convert_file(path).readme
    assert "None: every layer maps one to one" in plain


def test_hostile_names_cannot_break_table_or_graph(tmp_path: Path) -> None:
    names = [
        'in"put',
        "a|b`c",
        "x\ny<br/>",
        "\u202eevil\u200b",
        "end]) --> n0",
        "#quot;",
    ]
    layers = [w.image_input(names[0], (4, 4, 1), "none")]
    layers += [w.relu(n) for n in names[1:]]
    path = tmp_path / "hostile.mat"
    w.write_mat(path, {"net": w.series_network(layers)})
    readme = api.convert_file(path).readme
    labels, edges = parse_mermaid(readme)
    assert len(labels) == len(names) and len(edges) == len(names) - 1
    rows = table_rows(readme)
    assert len(rows) == len(names) and all(len(r) == 6 for r in rows)
    assert "\u202e" not in readme.split("```mermaid")[1]
    assert mermaid_label('a"b') == "a#34;b"


def test_long_chains_of_a_big_graph_collapse() -> None:
    result = api.convert_file(corpus_file("matconvnet", "dncnn_sigma25.mat"))
    nodes = len(result.graph.nodes)
    assert nodes > 24
    labels, edges = parse_mermaid(result.readme)
    assert len(labels) < 10
    hidden = sum(
        int(m.group(1)) for m in re.finditer(r"\((\d+) layers\)", result.readme)
    )
    shown = sum(1 for label in labels.values() if "layers)" not in label)
    assert hidden + shown == nodes  # every layer drawn or counted in a summary box


def test_readme_written_unless_asked_not_to(tmp_path: Path) -> None:
    source = REPO / "examples" / "tiny_cnn.mat"
    api.convert(source, tmp_path / "a")
    assert (tmp_path / "a" / "README.md").read_text() == (
        REPO / "generated_examples" / "tiny_cnn" / "README.md"
    ).read_text()
    api.convert(source, tmp_path / "b", readme=False)
    assert not (tmp_path / "b" / "README.md").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "README.md").write_text(
        (tmp_path / "a" / "README.md").read_text()
    )
    with pytest.raises(api.ConversionError, match="README.md already exists"):
        api.convert(
            source, tmp_path / "c"
        )  # its own README: replaced only with --force


def test_a_readme_mat2torch_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    source = REPO / "examples" / "tiny_cnn.mat"
    (tmp_path / "README.md").write_text("# my project\n")
    for force in (False, True):
        with pytest.raises(api.ConversionError, match="not written by mat2torch"):
            api.convert(source, tmp_path, force=force)
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    assert not (tmp_path / "model.py").exists()
    api.convert(source, tmp_path, readme=False)  # --no-readme leaves it alone
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    # its own README is replaced with --force
    api.convert(source, tmp_path / "own")
    api.convert(source, tmp_path / "own", force=True)
