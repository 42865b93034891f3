"""Shallow networks (``network`` objects, ``Autoencoder``) from ../shared/corpus/shallow,
against MATLAB's outputs stored beside them and the independent NumPy ``sim``
(codegen/reference/shallow_numpy.py).

The reference reads each network with scipy.io (``mat_dtype=True``), the converter with
mat-io, so the two share no reading code; the Autoencoder, which scipy cannot read, is
given to the reference as mat-io read it. Generated models are checked twice: in float64
(``.double()`` then the weights, which the safetensors file keeps in MATLAB's double
precision) against the reference within 1e-10, and as ``load_model()`` gives them
(float32) within :data:`tests.support.TOL`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import scipy.io as sio
import torch
from matio import load_from_mat
from safetensors.torch import load_file

from codegen import api, cli
from codegen.errors import ConversionError
from codegen.reference import shallow_numpy as R
from tests.conftest import corpus_file, import_generated
from tests.support import TOL, rel_err


@pytest.fixture(autouse=True)
def _inference_only() -> Iterator[None]:
    """These tests only run models: no autograd (restored for the modules after)."""
    with torch.no_grad():
        yield


EXACT = 1e-10  # float64 model vs float64 reference: the same arithmetic, reordered
STORED = 1e-6  # against outputs MATLAB computed and saved


def load(name: str) -> dict[str, Any]:
    return sio.loadmat(
        corpus_file("shallow", name),
        squeeze_me=False,
        struct_as_record=False,
        mat_dtype=True,
    )


def converted(tmp_path: Path, name: str, variable: str | None = None) -> ModuleType:
    out = tmp_path / Path(name).stem
    api.convert(corpus_file("shallow", name), out, variable=variable, force=True)
    return import_generated(out)


def run(module: ModuleType, x: np.ndarray, double: bool = True) -> np.ndarray:
    """sim-style call: x features × samples in, outputs × samples out."""
    model = module.load_model()
    if double:
        model = model.double()
        directory = Path(module.__file__).parent  # type: ignore[arg-type]
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
        y = model(torch.from_numpy(np.ascontiguousarray(x.T, dtype=np.float64)))
    else:
        y = model(module.from_matlab(x))
    return y.numpy().astype(np.float64).T


def check(module: ModuleType, net: Any, x: np.ndarray) -> np.ndarray:
    """The model against the reference (float64 and float32); returns the float64 output."""
    expected = R.sim(net, x)[0]
    y = run(module, x)
    assert np.array_equal(np.isnan(y), np.isnan(expected))
    finite = ~np.isnan(expected)
    assert rel_err(y[finite], expected[finite]) <= EXACT
    assert rel_err(run(module, x, double=False)[finite], expected[finite]) <= TOL
    return y


def test_fitnet_abj_deep_matches_stored_outputs(tmp_path: Path) -> None:
    d = load("abj_deep.mat")
    module = converted(tmp_path, "abj_deep.mat")
    y = check(module, d["network1"][0, 0], d["i"])
    # network1_outputs is samples × outputs
    assert rel_err(y, d["network1_outputs"].T) <= STORED


def test_feedforward_mostafa_matches_stored_outputs(tmp_path: Path) -> None:
    d = load("mostafa_ff.mat")
    module = converted(tmp_path, "mostafa_ff.mat")
    net = d["net"][0, 0]
    assert rel_err(check(module, net, d["TrainInputs"].T), d["F1TrNET"]) <= STORED
    assert rel_err(check(module, net, d["TestInputs"].T), d["F1TsNET"]) <= STORED


def test_removeconstantrows_inputs_letter_rcr(tmp_path: Path) -> None:
    """768 input rows, 141 of them removed before mapminmax."""
    d = load("letter_rcr.mat")
    module = converted(tmp_path, "letter_rcr.mat")
    y = check(module, d["net"][0, 0], d["x"])
    assert rel_err(y, d["y"]) <= STORED
    source = Path(module.__file__).read_text()  # type: ignore[arg-type]
    assert "removeconstantrows: MATLAB drops the 141 input rows" in source


def test_patternnet_twinkle_reinserts_constant_output_row(tmp_path: Path) -> None:
    d = load("twinkle_pr.mat")
    module = converted(tmp_path, "twinkle_pr.mat")
    net = d["net"][0, 0]
    y = check(module, net, d["inputs"])
    assert rel_err(y, d["outputs"]) <= STORED  # plural: the saved net's own outputs
    assert np.all(y[0] == 1.0)  # the re-inserted constant row (remove = 1)
    assert rel_err(check(module, net, d["x"]), d["a"]) <= STORED


def test_fitnet_esp_reproduces_training_record(tmp_path: Path) -> None:
    """tr.best_perf / best_vperf are MATLAB's mse (NaN targets ignored) on the train and
    validation samples; 2 samples hold NaN inputs, which propagate."""
    d = load("esp_fitnet.mat")
    module = converted(tmp_path, "esp_fitnet.mat")
    y = check(module, d["net"][0, 0], d["Input_Training"].T)
    tr = d["tr"][0, 0]
    errors = (d["Output_Training"].T - y) ** 2
    for index, perf in ((tr.trainInd, tr.best_perf), (tr.valInd, tr.best_vperf)):
        got = np.nanmean(errors[:, np.asarray(index).ravel().astype(int) - 1])
        stored = float(np.asarray(perf).ravel()[0])
        assert abs(got - stored) <= STORED * stored
    assert np.isnan(y).any()


def test_autoencoder_encode_and_predict(tmp_path: Path) -> None:
    """encode(autoenc, X) (saved as Enc) is layer 1 of the wrapped network; forward is
    predict. scipy cannot read the MCOS Autoencoder, so the reference gets mat-io's."""
    path = corpus_file("shallow", "autoenc_cheo.mat")
    net = load_from_mat(str(path))["autoenc"].properties["Network"]
    x = load("autoenc_cheo__data.mat")["NData"][:, :78].T
    enc = load("autoenc_cheo__enc.mat")["Enc"]
    assert rel_err(R.layer_outputs(net, x)[0], enc) <= 1e-12
    module = converted(tmp_path, "autoenc_cheo.mat")
    check(module, net, x)
    model = module.load_model().double()
    model.load_state_dict(
        load_file(str(tmp_path / "autoenc_cheo" / "model.safetensors"))
    )
    # The first forward line, Encoder = torch.sigmoid(self.Encoder(Input)), is encode().
    encoded = torch.sigmoid(model.Encoder(torch.from_numpy(np.ascontiguousarray(x.T))))
    assert rel_err(encoded.numpy().T, enc) <= STORED
    source = (tmp_path / "autoenc_cheo" / "model.py").read_text()
    assert "encode(autoenc, x.T).T is the output of layer 1 ('Encoder')" in source


def test_ocr_logsig_softmax_self_consistency(tmp_path: Path) -> None:
    d = load("ocr_logsig_softmax.mat")
    module = converted(tmp_path, "ocr_logsig_softmax.mat")
    net = d["net"][0, 0]
    a, t = load("ocr__A.mat")["A"], load("ocr__T10.mat")["T10"]
    y = check(module, net, a)
    assert np.allclose(y.sum(axis=0), 1.0)  # softmax per sample
    assert (y.argmax(0) == t.argmax(0)).mean() > 0.95  # 0.969 on its training digits
    for name in ("ocr__PTest1.mat", "ocr__PTest2.mat"):
        check(module, net, load(name)["P"])


def test_poslin_srail_with_its_external_scaling(tmp_path: Path) -> None:
    """No processFcns: the repository scales inputs and output outside the network."""
    d = load("srail_poslin.mat")
    module = converted(tmp_path, "srail_poslin.mat")
    data = d["datamass"]
    ranges = np.array([[1, 2], [120, 160], [300, 500], [2, 5]], dtype=np.float64)
    x = (data[:, :4].T - ranges[:, :1]) / (ranges[:, 1:] - ranges[:, :1])
    y = check(module, d["netmass"][0, 0], x)[0] * (6.23578 - 1.81576) + 1.81576
    t = data[:, 4]
    assert 1 - ((t - y) ** 2).sum() / ((t - t.mean()) ** 2).sum() > 0.999


def test_radial_basis_rbf_batik(tmp_path: Path) -> None:
    """dist weights and netprod with the bias, radbas: no stored outputs, reference only."""
    d = load("rbf_batik.mat")
    module = converted(tmp_path, "rbf_batik.mat")
    x = np.random.default_rng(9).uniform(-1, 2, (6, 40))
    check(module, d["net_keluaran"][0, 0], x)
    source = Path(module.__file__).read_text()  # type: ignore[arg-type]
    assert "torch.cdist(" in source and "radbas(n) = exp(-n^2)" in source


def test_narx_with_delays_is_refused_in_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = corpus_file("shallow", "narx_biogas.mat")
    with pytest.raises(ConversionError) as err:
        api.convert_file(path)
    text = str(err.value)
    assert text.startswith(
        "narx_biogas.mat, variable 'net': the shallow network has tapped delays"
    )
    assert "numInputDelays 4" in text and text.count(". ") == 0
    assert cli.main(["convert", str(path), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "model.py").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_inspect_lists_shallow_networks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(corpus_file("shallow", "autoenc_cheo.mat"))]) == 0
    out = capsys.readouterr().out
    assert "autoenc  (Autoencoder)" in out and "network.transferFcn.logsig" in out
    assert cli.main(["inspect", str(corpus_file("shallow", "twinkle_pr.mat"))]) == 0
    out = capsys.readouterr().out
    learnables = int(load("twinkle_pr.mat")["net"][0, 0].numWeightElements[0, 0])
    assert "net  (network)" in out and f"parameters: {learnables}   " in out
    assert "network.processFcns.removeconstantrows" in out
    assert cli.main(["inspect", str(corpus_file("shallow", "narx_biogas.mat"))]) == 0
    assert "cannot convert:" in capsys.readouterr().out


def test_conversion_is_byte_identical(tmp_path: Path) -> None:
    first = api.convert_file(corpus_file("shallow", "letter_rcr.mat"))
    second = api.convert_file(corpus_file("shallow", "letter_rcr.mat"))
    assert first.source == second.source and first.tensors == second.tensors


def test_command_line_convert_end_to_end(tmp_path: Path) -> None:
    """mat2torch convert into a directory; the file imports on its own and loads strictly."""
    out = tmp_path / "rcr"
    path = corpus_file("shallow", "letter_rcr.mat")
    assert cli.main(["convert", str(path), "-o", str(out)]) == 0
    module = import_generated(out)
    d = load("letter_rcr.mat")
    y = module.load_model()(module.from_matlab(d["x"])).numpy().T
    assert y.shape == (4, 20) and rel_err(y, d["y"]) <= TOL


def test_v73_file_written_by_mat_io(tmp_path: Path) -> None:
    """No MATLAB-saved v7.3 file with a shallow network is known; this one is mostafa_ff's
    network as mat-io writes it in HDF5 (group with MATLAB_class 'network', as MATLAB
    stores old-style objects), so the v7.3 path is exercised, not proven on MATLAB's bytes.
    """
    from matio import save_to_mat

    source = corpus_file("shallow", "mostafa_ff.mat")
    path = tmp_path / "net73.mat"
    save_to_mat(str(path), {"net": load_from_mat(str(source))["net"]}, version="v7.3")
    assert path.read_bytes()[512:520] == b"\x89HDF\r\n\x1a\n"
    out = tmp_path / "out73"
    api.convert(path, out)
    module = import_generated(out)
    d = load("mostafa_ff.mat")
    y = run(module, d["TestInputs"].T)
    assert rel_err(y, d["F1TsNET"]) <= STORED
