"""Real sequence networks from ../shared/corpus against MATLAB's own labels and the NumPy
reference of MATLAB's rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codegen.readers import mat
from codegen.reference import matlab_numpy as ref
from codegen.reference import sequence_numpy as seqref
from tests.conftest import convert_and_load, corpus_file
from tests.support import TOL, rel_error, run, to_matlab


@pytest.fixture(scope="module")
def faultdet(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("faultdet")
    return (
        *convert_and_load(corpus_file("dltoolbox", "faultdet_TrainedModel.mat"), out),
        out,
    )


def test_faultdet_reproduces_all_matlab_classify_labels(faultdet) -> None:  # type: ignore[no-untyped-def]
    module, model, _ = faultdet
    features = mat.load(
        corpus_file("dltoolbox", "faultdet_ValidationFeatures.mat")
    ).variables["validationFeatures"]
    labels = mat.load(
        corpus_file("dltoolbox", "faultdet_ValidationResults.mat")
    ).variables["validationResults"]
    x, lengths = module.pad_sequences(features)
    assert x.shape == (176, 97, 10)
    with torch.no_grad():
        probs = model.predict(x, lengths)
    predicted = [module.CLASSES[i] for i in probs.argmax(dim=1).tolist()]
    expected = [str(v) for v in np.asarray(labels).ravel()]
    assert sum(p == e for p, e in zip(predicted, expected)) == 176


def test_faultdet_matches_reference_on_variable_lengths(faultdet) -> None:  # type: ignore[no-untyped-def]
    """Truncated validation sequences of different lengths in one padded batch give what
    each gives alone in the NumPy reference (two stacked LSTMs, the second 'last')."""
    module, model, _ = faultdet
    features = mat.load(
        corpus_file("dltoolbox", "faultdet_ValidationFeatures.mat")
    ).variables["validationFeatures"]
    net = ref.load_mat(str(corpus_file("dltoolbox", "faultdet_TrainedModel.mat")))[
        "airCompNet"
    ]
    layers, _ = ref.network_layers(net)
    lengths = [97, 41, 13, 60]
    sequences = [np.asarray(features.flat[i])[:, :n] for i, n in enumerate(lengths)]
    x, lens = module.pad_sequences(sequences)
    with torch.no_grad():
        probs = model.predict(x, lens).numpy().T
    for i, expected in enumerate(
        seqref.per_observation(lambda s: ref.run_layers(layers, s), sequences)
    ):
        assert rel_error(probs[:, i], expected) <= TOL


def test_faultdet_generated_file_reads_well(faultdet) -> None:  # type: ignore[no-untyped-def]
    _, _, out = faultdet
    source = (out / "model.py").read_text()
    assert "self.lstm_1 = LSTMLayer(nn.LSTM(10, 100, batch_first=True))" in source
    assert "bias_hh = 0" in source and "gate rows i, f, g, o" in source
    assert "OutputMode 'last'" in source
    assert 'self.register_buffer("lstm_2_h0", torch.zeros(1, 1, 100))' in source
    assert "x = self.lstm_2(x, lengths, self.lstm_2_h0, self.lstm_2_c0)" in source
    assert "return self.softmax(fc)" in source


@pytest.mark.parametrize(
    ("file", "variable", "channels"),
    [("arfrns_TrainedNet.mat", "Net", 40), ("ibpinn_net.mat", "net", 4)],
)
def test_lstm_regression_networks_match_reference(
    tmp_path: Path, file: str, variable: str, channels: int
) -> None:
    path = corpus_file("dltoolbox", file)
    _, model = convert_and_load(path, tmp_path)
    layers, _ = ref.network_layers(ref.load_mat(str(path))[variable])
    rng = np.random.default_rng(2026)
    x = rng.normal(size=(channels, 3, 29))  # C, N, T (odd length, batch of 3)
    out = to_matlab(run(model, x))
    assert rel_error(out, ref.run_layers(layers, x)) <= TOL


@pytest.fixture(scope="module")
def tsx(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("tsx")
    path = corpus_file("dltoolbox", "tsx_transformer_demo.mat")
    module, model = convert_and_load(path, out)
    variables = ref.load_mat(str(path))
    return module, model, variables, out


def _windows(data: np.ndarray, starts: list[int], length: int) -> np.ndarray:
    """Windows of the stored timetable as a MATLAB (C, N, T) batch."""
    return np.stack([data[s : s + length].T for s in starts], axis=1)


def test_tsx_transformer_matches_reference_on_stored_data(tsx) -> None:  # type: ignore[no-untyped-def]
    """Position embedding + addition, causal and plain self-attention (3 heads of 32
    channels), Indexing1D 'last', then an FC, on windows of the file's own timetable."""
    _, model, variables, _ = tsx
    data = variables["data"].to_numpy()  # the timetable `data`: 5970 × 3 prices
    assert data.shape == (5970, 3)
    layers, connections = ref.network_layers(variables["net"])
    x = _windows(data, [0, 977, 3001, 5906], 64)  # MaxPosition is 64
    expected = ref.run_graph(layers, connections, {"input": x})["fc"]
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    # Odd lengths, one padded batch with lengths: each window as if alone.
    lengths = [17, 64, 5]
    windows = [
        data[s : s + n].T for s, n in zip([100, 2000, 4000], lengths, strict=True)
    ]
    batch = np.zeros((3, 3, 64))
    for i, w in enumerate(windows):
        batch[:, i, : w.shape[1]] = w
    out = to_matlab(run(model, batch, torch.tensor(lengths)))
    alone = seqref.per_observation(
        lambda s: ref.run_graph(layers, connections, {"input": s})["fc"], windows
    )
    for i, expected_one in enumerate(alone):
        assert rel_error(out[:, i], expected_one) <= TOL


def test_tsx_generated_file_reads_well(tsx) -> None:  # type: ignore[no-untyped-def]
    *_, out = tsx
    source = (out / "model.py").read_text()
    for line in (
        "self.pos_emb = nn.Embedding(64, 3)",
        "self.selfattention_1 = SelfAttention(3, 96, 96, 3, num_heads=3, causal=True)",
        "x = self.pos_emb(time_steps(input_))",
        "# MATLAB layer 'add'\n        x = x + input_\n",
        "# MATLAB layer 'layer'\n        x = last_step(x, lengths)\n",
        "fc = self.fc(x)\n        return fc\n",
    ):
        assert line in source
    # 'pos-emb' → pos_emb keeps every word: no comment repeats the name.
    assert "# MATLAB layer 'pos-emb'" not in source
    assert "codegen" not in source
