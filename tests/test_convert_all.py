"""`mat2torch convert FILE --all`: every network of a file from one read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codegen import api, cli
from codegen.readers import mat
from codegen.testing import dltwriter as w

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
KORNIARP = CORPUS / "dltoolbox" / "korniarp_lgraph.mat"


def _net(rng: np.random.Generator, outputs: int) -> object:
    return w.series_network(
        [
            w.image_input("in", (4, 4, 1), "none"),
            w.conv2d(
                "conv",
                rng.standard_normal((3, 3, 1, 2)).astype(np.float32),
                rng.standard_normal((1, 1, 2)).astype(np.float32),
                padding=(1, 1, 1, 1),
            ),
            w.relu("relu"),
            w.fully_connected(
                "fc",
                rng.standard_normal((4, 4, 2, outputs)).astype(np.float32),
                rng.standard_normal((1, 1, outputs)).astype(np.float32),
            ),
            w.regression_output("out"),
        ]
    )


@pytest.fixture
def two_nets(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    path = tmp_path / "pair.mat"
    s = w.struct({"critic": _net(rng, 1)})
    w.write_mat(path, {"actor": _net(rng, 3), "agent": s, "note": np.ones((1, 2))})
    return path


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = mat.load_from_mat

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(mat, "load_from_mat", counted)
    return calls


def test_all_reads_the_file_once_and_matches_single_conversions(
    two_nets: Path, tmp_path: Path, count_reads: list[str]
) -> None:
    out = tmp_path / "all"
    assert (
        cli.main(["convert", "--in-process", str(two_nets), "--all", "-o", str(out)])
        == 0
    )
    assert len(count_reads) == 1
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["actor", "critic"]
    for folder, variable in [("actor", "actor"), ("critic", "agent.critic")]:
        single = tmp_path / f"one_{folder}"
        api.convert(two_nets, single, variable=variable)
        for name in ("model.py", "model.safetensors"):
            assert (out / folder / name).read_bytes() == (single / name).read_bytes()
    assert len(count_reads) == 3  # one per single conversion above, one for --all


def test_all_on_the_corpus_file_with_three_graphs(
    tmp_path: Path, count_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["convert", "--in-process", str(KORNIARP), "--all", "-o", str(tmp_path)]
    )
    assert code == 0
    assert len(count_reads) == 1
    captured = capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lgraph",
        "lgraph_1",
        "mygraph",
    ]
    assert "3 networks converted" in captured.out
    classes = [
        (tmp_path / f / "model.py").read_text().split("\nclass ")[1].split("(")[0]
        for f in ("lgraph", "lgraph_1", "mygraph")
    ]
    assert len(set(classes)) == 3


def test_all_refuses_existing_outputs_before_writing(
    two_nets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all"
    (out / "critic").mkdir(parents=True)
    (out / "critic" / "model.py").write_text("mine")
    code = cli.main(["convert", "--in-process", str(two_nets), "--all", "-o", str(out)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert not (out / "actor").exists()
    assert (out / "critic" / "model.py").read_text() == "mine"
    assert (
        cli.main(
            [
                "convert",
                "--in-process",
                str(two_nets),
                "--all",
                "-o",
                str(out),
                "--force",
            ]
        )
        == 0
    )
    assert (out / "critic" / "model.safetensors").exists()


def test_all_with_variable_is_refused(
    two_nets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["convert", str(two_nets), "--all", "--variable", "actor", "-o", str(tmp_path)]
    )
    assert code == 2
    assert "--all" in capsys.readouterr().err


def test_quiet_prints_nothing_on_success(
    two_nets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "convert",
                "--in-process",
                str(two_nets),
                "--all",
                "-q",
                "-o",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    args = ["convert", "--in-process", str(KORNIARP), "--variable", "lgraph", "--quiet"]
    assert cli.main([*args, "-o", str(tmp_path / "b")]) == 0  # untrained: a warning
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_output_folders_are_meaningful_and_unique() -> None:
    assert api.output_folders(
        [
            "agent.Critic.Model.any.DLTModelExternal",
            "other.Critic.Model.any.DLTModelExternal",
            "lgraph_1",
            "s.nets{2}",
            "(top level)",
        ]
    ) == ["Critic", "Critic_2", "lgraph_1", "nets_2", "network"]


def test_all_writes_what_converts_and_names_what_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codegen.testing import mcnwriter as m

    rng = np.random.default_rng(9)
    conv = m.conv("conv1", rng.standard_normal((3, 3, 1, 2)), np.zeros(2), pad=1)
    good = m.simplenn([conv, m.relu("relu1")], (8, 8, 1))
    bad = m.simplenn([conv, {"name": "odd", "type": "SubP"}], (8, 8, 1))
    path = tmp_path / "two.mat"
    import scipy.io

    scipy.io.savemat(str(path), {"good": good, "bad": bad})
    out = tmp_path / "out"
    code = cli.main(["convert", "--in-process", str(path), "--all", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert (out / "good" / "model.py").is_file()
    assert (out / "good" / "model.safetensors").is_file()
    assert not (out / "bad").exists()
    assert "'bad' was not converted" in captured.err
    assert "1 of 2 networks converted" in captured.err
    assert "SubP" in captured.err
