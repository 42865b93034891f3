"""Attention, embeddings, 1-D indexing, layer normalization, flatten, and per-step dense
layers on sequences, against NumPy references of MATLAB's rules.

SelfAttentionLayer, PositionEmbeddingLayer and Indexing1DLayer are written in the schema
of the real tsx_transformer_demo.mat; AttentionLayer, WordEmbeddingLayer and
LayerNormalizationLayer have no real sample (schema inferred, see codegen.testing.dltwriter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codegen.errors import ConversionError
from codegen.reference import matlab_numpy as ref
from codegen.reference import sequence_numpy as seqref
from codegen.testing import dltwriter as dw
from tests.support import TOL, convert_network, rel_error, run, to_matlab, to_torch

C, N, T = 6, 3, 7


def _attention_weights(
    rng: np.random.Generator, dk: int = 8, dv: int = 4, out: int = 5
) -> dict[str, np.ndarray]:
    shapes = {
        "QueryWeights": (dk, C),
        "KeyWeights": (dk, C),
        "ValueWeights": (dv, C),
        "OutputWeights": (out, dv),
        "QueryBias": (dk,),
        "KeyBias": (dk,),
        "ValueBias": (dv,),
        "OutputBias": (out,),
    }
    return {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}


def _biases(w: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (w["QueryBias"], w["KeyBias"], w["ValueBias"], w["OutputBias"])


def _custom_mask(rng: np.random.Generator) -> np.ndarray:
    mask = (rng.random((T, T)) < 0.5).astype(np.float64)  # keys × queries
    np.fill_diagonal(mask, 1.0)
    return mask


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "custom"])
def test_self_attention(tmp_path: Path, heads: int, mask_kind: str) -> None:
    rng = np.random.default_rng(heads)
    w = _attention_weights(rng)
    custom = _custom_mask(rng) if mask_kind == "custom" else None
    layer = dw.self_attention(
        "attn", w, heads, custom if custom is not None else mask_kind
    )
    _, model = convert_network(
        tmp_path, dw.series_network([dw.sequence_input("seq", C), layer])
    )
    x = rng.normal(size=(C, N, T))
    out = to_matlab(run(model, x))
    expected = seqref.self_attention(
        x,
        w["QueryWeights"],
        w["KeyWeights"],
        w["ValueWeights"],
        w["OutputWeights"],
        _biases(w),
        heads,
        causal=mask_kind == "causal",
        mask=custom,
    )
    assert out.shape == (5, N, T)
    assert rel_error(out, expected) <= TOL
    if mask_kind != "custom":  # the shared reference agrees
        shared = ref.self_attention(
            x,
            w["QueryWeights"],
            w["KeyWeights"],
            w["ValueWeights"],
            w["OutputWeights"],
            *_biases(w),
            num_heads=heads,
            attention_mask=mask_kind,
        )
        assert rel_error(out, shared) <= TOL
    if mask_kind != "none":  # the mask matters, so this test can fail
        unmasked = seqref.self_attention(
            x,
            w["QueryWeights"],
            w["KeyWeights"],
            w["ValueWeights"],
            w["OutputWeights"],
            _biases(w),
            heads,
        )
        assert rel_error(out, unmasked) > 1e-3


def test_self_attention_padding_mask_input(tmp_path: Path) -> None:
    """HasPaddingMaskInput: keys where the mask is 0 get no weight. MATLAB names the port
    'attn/mask', as the Connections table does."""
    rng = np.random.default_rng(11)
    w = _attention_weights(rng)
    layers = [
        dw.sequence_input("x", C),
        dw.sequence_input("mask", 1),
        dw.self_attention("attn", w, 2, "causal", True),
    ]
    net = dw.dlnetwork(layers, [("x", "attn"), ("mask", "attn/mask")])
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(C, N, T))
    lengths = [7, 4, 2]
    key_mask = np.array([[t < n for n in lengths] for t in range(T)])  # (T, N)
    out = to_matlab(run(model, x, to_torch(key_mask.T[None].astype(np.float64))))
    expected = seqref.self_attention(
        x,
        w["QueryWeights"],
        w["KeyWeights"],
        w["ValueWeights"],
        w["OutputWeights"],
        _biases(w),
        2,
        causal=True,
        key_mask=key_mask,
    )
    assert rel_error(out, expected) <= TOL


def test_self_attention_with_lengths_matches_each_sequence_alone(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(12)
    w = _attention_weights(rng)
    _, model = convert_network(
        tmp_path,
        dw.series_network([dw.sequence_input("seq", C), dw.self_attention("a", w, 2)]),
    )
    lengths = [7, 2, 5]
    sequences = [rng.normal(size=(C, n)) for n in lengths]
    batch = np.zeros((C, len(lengths), T))
    for i, s in enumerate(sequences):
        batch[:, i, : s.shape[1]] = s
    out = to_matlab(run(model, batch, torch.tensor(lengths)))

    def alone(x: np.ndarray) -> np.ndarray:
        return seqref.self_attention(
            x,
            w["QueryWeights"],
            w["KeyWeights"],
            w["ValueWeights"],
            w["OutputWeights"],
            _biases(w),
            2,
        )

    for i, (expected, n) in enumerate(
        zip(seqref.per_observation(alone, sequences), lengths, strict=True)
    ):
        assert rel_error(out[:, i, :n], expected) <= TOL
    assert (
        rel_error(to_matlab(run(model, batch))[:, 1, :2], out[:, 1, :2]) > 1e-4
    )  # padding would count


@pytest.mark.parametrize(("scale", "mask"), [(None, "none"), (0.3, "causal")])
def test_attention_layer_query_key_value(
    tmp_path: Path, scale: float | None, mask: str
) -> None:
    rng = np.random.default_rng(13)
    wq, wk, wv = (
        rng.normal(size=(8, C)),
        rng.normal(size=(8, C)),
        rng.normal(size=(4, C)),
    )
    layers = [
        dw.sequence_input("x", C),
        dw.fully_connected("q", wq.astype(np.float32)),
        dw.fully_connected("k", wk.astype(np.float32)),
        dw.fully_connected("v", wv.astype(np.float32)),
        dw.attention_layer("att", 2, scale, mask),
    ]
    edges = [
        ("x", "q"),
        ("x", "k"),
        ("x", "v"),
        ("v", "att/value"),
        ("q", "att/query"),
        ("k", "att/key"),
    ]
    _, model = convert_network(tmp_path, dw.dlnetwork(layers, edges))
    x = rng.normal(size=(C, N, T))
    out = to_matlab(run(model, x))
    q, k, v = (ref.fully_connected(x, wt) for wt in (wq, wk, wv))
    expected = seqref.attention(q, k, v, 2, scale=scale, causal=mask == "causal")
    assert rel_error(out, expected) <= TOL


def test_position_embedding_added_to_input_like_tsx(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    weights = rng.normal(size=(C, 10)).astype(np.float32)  # OutputSize × MaxPosition
    layers = [
        dw.sequence_input("input", C),
        dw.position_embedding("pos-emb", weights),
        dw.addition("add"),
    ]
    edges = [("input", "pos-emb"), ("input", "add/in2"), ("pos-emb", "add/in1")]
    _, model = convert_network(tmp_path, dw.dag_network(layers, edges))
    x = rng.normal(size=(C, N, T))
    expected = ref.position_embedding(x, weights) + x
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    # MATLAB refuses sequences longer than MaxPosition too; the model says why.
    with pytest.raises(ValueError, match="11 time steps, more than the 10 positions"):
        run(model, rng.normal(size=(C, 1, 11)))


@pytest.mark.parametrize(
    ("oov_mode", "columns"), [("map-to-last", 7), (None, 7), ("map-to-last", 6)]
)
def test_word_embedding_one_based_indices_and_oov(
    tmp_path: Path, oov_mode: str | None, columns: int
) -> None:
    rng = np.random.default_rng(15)
    weights = rng.normal(size=(4, columns)).astype(np.float32)
    layers = [
        dw.sequence_input("words", 1),
        dw.word_embedding("emb", weights, num_words=6, oov_mode=oov_mode),
    ]
    _, model = convert_network(tmp_path, dw.series_network(layers))
    indices = np.array(
        [[1, 6, 0, 7, 2.5, np.nan, 3], [2, 2, 100, -1, 5, 4, 1]]
    )  # (N, T)
    x = indices[None]  # (1, N, T)
    expected = ref.word_embedding(x, weights, 6)
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    np.testing.assert_allclose(
        to_matlab(run(model, x))[:, 0, 0], weights[:, 0], rtol=0, atol=0
    )  # index 1 = column 1


def test_word_embedding_oov_error_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    weights = rng.normal(size=(4, 6)).astype(np.float32)
    layers = [
        dw.sequence_input("words", 1),
        dw.word_embedding("emb", weights, num_words=6, oov_mode="error"),
    ]
    _, model = convert_network(tmp_path, dw.series_network(layers))
    good = np.array([[[1, 2, 6]]], dtype=np.float64)
    assert (
        rel_error(to_matlab(run(model, good)), weights[:, [0, 1, 5]][:, None, :]) <= TOL
    )
    with pytest.raises(ValueError, match="OOVMode"):
        run(model, np.array([[[1, 7, 2]]], dtype=np.float64))


def _indexing_net(index: str | int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    w1, w2 = rng.normal(size=(4, C)).astype(np.float32), rng.normal(size=(3, 4)).astype(
        np.float32
    )
    b1, b2 = rng.normal(size=4).astype(np.float32), rng.normal(size=3).astype(
        np.float32
    )
    layers = [
        dw.sequence_input("seq", C),
        dw.fully_connected("fc1", w1, b1),
        dw.indexing1d("pick", index),
        dw.fully_connected("fc2", w2, b2),
    ]
    return dw.series_network(layers), (w1, b1, w2, b2)


@pytest.mark.parametrize("index", ["last", 3])
def test_indexing1d(tmp_path: Path, index: str | int) -> None:
    rng = np.random.default_rng(17)
    net, (w1, b1, w2, b2) = _indexing_net(index, rng)
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(C, N, T))

    def reference(x: np.ndarray) -> np.ndarray:
        return ref.fully_connected(
            ref.indexing1d(ref.fully_connected(x, w1, b1), index), w2, b2
        )

    assert rel_error(to_matlab(run(model, x)), reference(x)) <= TOL
    if index == "last":  # with lengths: each sequence's last real step
        lengths = [7, 1, 4]
        sequences = [x[:, i, :n] for i, n in enumerate(lengths)]
        out = to_matlab(run(model, x, torch.tensor(lengths)))
        for i, expected in enumerate(seqref.per_observation(reference, sequences)):
            assert rel_error(out[:, i], expected) <= TOL


def test_indexing1d_padding_mask_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(18)
    layers = [
        dw.sequence_input("x", C),
        dw.sequence_input("mask", 1),
        dw.indexing1d("pick", "last", True),
    ]
    _, model = convert_network(
        tmp_path, dw.dlnetwork(layers, [("x", "pick"), ("mask", "pick/in2")])
    )
    x = rng.normal(size=(C, N, T))
    lengths = [7, 3, 5]
    mask = np.array(
        [[[t < n for t in range(T)] for n in lengths]], dtype=np.float64
    )  # (1, N, T)
    out = to_matlab(run(model, x, to_torch(mask)))
    assert (
        rel_error(
            out, np.stack([x[:, i, n - 1] for i, n in enumerate(lengths)], axis=1)
        )
        <= TOL
    )


@pytest.mark.parametrize("dimension", ["auto", "batch-excluded"])
def test_layer_norm_on_sequences(tmp_path: Path, dimension: str) -> None:
    rng = np.random.default_rng(19)
    scale, offset = rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(
        np.float32
    )
    layer = dw.layer_norm(
        "ln", offset, scale, 1e-4, operation_dimension=dimension, for_images=False
    )
    _, model = convert_network(
        tmp_path, dw.series_network([dw.sequence_input("seq", C), layer])
    )
    x = rng.normal(1.0, 2.0, size=(C, N, T))
    if dimension == "auto":
        expected = ref.layer_norm(x, scale, offset, 1e-4, "auto")
    else:
        expected = seqref.layer_norm_over_channels_and_time(x, scale, offset, 1e-4)
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL


@pytest.mark.parametrize("dimension", ["auto", "channel-only"])
def test_layer_norm_on_images(tmp_path: Path, dimension: str) -> None:
    rng = np.random.default_rng(20)
    scale, offset = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(
        np.float32
    )
    layer = dw.layer_norm("ln", offset, scale, operation_dimension=dimension)
    net = dw.series_network(
        [dw.image_input("img", (4, 5, 3), normalization="none"), layer]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(1.0, 2.0, size=(4, 5, 3, N))  # H, W, C, N
    with torch.no_grad():
        out = (
            model.predict(torch.tensor(x.transpose(3, 2, 0, 1), dtype=torch.float32))
            .numpy()
            .transpose(2, 3, 1, 0)
        )
    assert rel_error(out, ref.layer_norm(x, scale, offset, 1e-5, dimension)) <= TOL


def test_layer_norm_on_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    scale, offset = rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(
        np.float32
    )
    net = dw.series_network(
        [
            dw.feature_input("feat", C),
            dw.layer_norm("ln", offset, scale, for_images=False),
        ]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(C, N))
    with torch.no_grad():
        out = model.predict(torch.tensor(x.T, dtype=torch.float32)).numpy().T
    assert rel_error(out, ref.layer_norm(x, scale, offset)) <= TOL


def test_flatten_image_then_fully_connected(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    w = rng.normal(size=(5, 3 * 4 * 2)).astype(
        np.float32
    )  # Out × (H·W·C), column-major inputs
    net = dw.series_network(
        [
            dw.image_input("img", (3, 4, 2), normalization="none"),
            dw.flatten("flat"),
            dw.fully_connected("fc", w),
        ]
    )
    _, model = convert_network(tmp_path, net)
    x = rng.normal(size=(3, 4, 2, N))
    with torch.no_grad():
        out = (
            model.predict(torch.tensor(x.transpose(3, 2, 0, 1), dtype=torch.float32))
            .numpy()
            .T
        )
    assert (
        rel_error(out, ref.fully_connected(ref.flatten(x), w, None, 5).reshape(5, N))
        <= TOL
    )


def test_flatten_on_sequences_vanishes_and_dense_layers_act_per_step(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(23)
    w, b = rng.normal(size=(4, C)).astype(np.float32), rng.normal(size=4).astype(
        np.float32
    )
    layers = [
        dw.sequence_input("seq", C),
        dw.flatten("flat"),
        dw.fully_connected("fc", w, b),
        dw.softmax("sm", channel_dim=1, vector_format=True),
        dw.classification_output("out", ["a", "b", "c", "d"]),
    ]
    module, model = convert_network(tmp_path, dw.series_network(layers))
    x = rng.normal(size=(C, N, T))
    out = to_matlab(run(model, x))
    assert rel_error(out, ref.softmax(ref.fully_connected(x, w, b))) <= TOL
    np.testing.assert_allclose(
        out.sum(axis=0), 1.0, rtol=1e-6
    )  # softmax over channels, per time step
    assert module.CLASSES == ("a", "b", "c", "d")
    forward = (
        (tmp_path / "out" / "model.py")
        .read_text()
        .split("def forward", 1)[1]
        .split("def from_matlab")[0]
    )
    assert "flat" not in forward and "fc = self.fc(seq)" in forward


@pytest.mark.parametrize(
    "kind", ["zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one"]
)
def test_sequence_input_normalization(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(24)
    stats = {
        "mean": rng.normal(size=C),
        "std": rng.uniform(0.5, 2.0, size=C),
        "min": rng.uniform(-3, -1, size=C),
        "max": rng.uniform(1, 3, size=C),
    }
    layer = dw.sequence_input("seq", C, kind, min_length=3, **stats)
    _module, model = convert_network(
        tmp_path,
        dw.series_network(
            [layer, dw.fully_connected("fc", np.eye(C, dtype=np.float32))]
        ),
    )
    x = rng.normal(size=(C, N, T))
    expected = ref.input_normalization(
        x, kind, stats["mean"], stats["std"], stats["min"], stats["max"]
    )
    assert rel_error(to_matlab(run(model, x)), expected) <= TOL
    assert "at least 3 time steps (MinLength)" in (type(model).__doc__ or "")


def test_layout_helpers(tmp_path: Path) -> None:
    rng = np.random.default_rng(25)
    module, _ = convert_network(
        tmp_path,
        dw.series_network(
            [
                dw.sequence_input("seq", C),
                dw.fully_connected("fc", np.eye(C, dtype=np.float32)),
            ]
        ),
    )
    one = rng.normal(size=(C, T))
    assert torch.equal(
        module.from_matlab(one), torch.tensor(one.T[None], dtype=torch.float32)
    )
    batch = rng.normal(size=(C, N, T))
    assert torch.equal(module.from_matlab(batch), to_torch(batch))
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = rng.normal(size=(C, 3)), rng.normal(size=(C, 5))
    x, lengths = module.pad_sequences(cell)
    assert x.shape == (2, 5, C) and lengths.tolist() == [3, 5]
    assert (
        torch.equal(x[0, :3], torch.tensor(cell[0, 0].T, dtype=torch.float32))
        and not x[0, 3:].any()
    )


def test_self_attention_scores_output_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(26)
    layer = dw.self_attention(
        "attn", _attention_weights(rng), 2, has_scores_output=True
    )
    with pytest.raises(ConversionError, match=r"'attn'.*HasScoresOutput"):
        convert_network(
            tmp_path, dw.series_network([dw.sequence_input("seq", C), layer])
        )
