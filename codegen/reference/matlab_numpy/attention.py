"""Transformer layers on sequences (C,N,T): self-attention, position and word embeddings,
and 1-D indexing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from codegen.reference.matlab_numpy.fields import (
    Array,
    LayerRule,
    Props,
    as_bool,
    as_f64,
    as_int,
    as_str,
    is_empty,
    param,
)


def project_steps(weights: Array, bias: Array | None, x: Array) -> Array:
    """``W·x_t + b`` at every time step of a (C,N,T) sequence → (Out,N,T); an absent or
    empty bias adds nothing. The projections of every attention layer."""
    y = np.einsum(
        "oc,cnt->ont",
        np.asarray(weights, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
    )
    if bias is not None and np.asarray(bias).size:
        y = y + np.asarray(bias, dtype=np.float64).reshape(-1)[:, None, None]
    return y


def self_attention(
    x: Array,
    query_weights: Array,
    key_weights: Array,
    value_weights: Array,
    output_weights: Array,
    query_bias: Array | None = None,
    key_bias: Array | None = None,
    value_bias: Array | None = None,
    output_bias: Array | None = None,
    num_heads: int = 1,
    attention_mask: str = "none",
    scale: float | None = None,
) -> Array:
    """selfAttentionLayer on a sequence (C,N,T) (SEM §Attention; MATLAB ``attention``).

    Q = W_Q x + b_Q (dk,N,T), K likewise, V = W_V x + b_V (dv,N,T). Head j takes the
    contiguous row block j·dk/heads … (j+1)·dk/heads − 1 (MATLAB reshapes the channel dim
    column-major to (dk/heads, heads)). Scores s[q,k] = scale · Σ Q[:,q]·K[:,k] with
    scale = 1/sqrt(dk/heads); 'causal' masks keys k > q; softmax over keys;
    A[:,q] = Σ_k softmax[q,k] · V[:,k]; heads are stacked back in order; output
    W_O A + b_O (OutputSize,N,T).
    """
    x = np.asarray(x, dtype=np.float64)
    _, n, t_len = x.shape
    q = project_steps(query_weights, query_bias, x)
    k = project_steps(key_weights, key_bias, x)
    v = project_steps(value_weights, value_bias, x)
    dk, dv = q.shape[0], v.shape[0]
    hk, hv = dk // num_heads, dv // num_heads
    sc = 1.0 / math.sqrt(hk) if scale is None else float(scale)
    out = np.zeros((dv, n, t_len))
    for j in range(num_heads):
        qh, kh, vh = (
            q[j * hk : (j + 1) * hk],
            k[j * hk : (j + 1) * hk],
            v[j * hv : (j + 1) * hv],
        )
        s = np.einsum("dnq,dnk->nqk", qh, kh) * sc
        if attention_mask == "causal":
            s = np.where(np.triu(np.ones((t_len, t_len), bool), 1)[None], -np.inf, s)
        elif attention_mask not in ("none", ""):
            raise ValueError(f"unsupported AttentionMask {attention_mask!r}")
        s = s - s.max(axis=2, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=2, keepdims=True)
        out[j * hv : (j + 1) * hv] = np.einsum("nqk,dnk->dnq", p, vh)
    return project_steps(output_weights, output_bias, out)


def position_embedding(x: Array, weights: Array) -> Array:
    """positionEmbeddingLayer on a sequence (C,N,T) (MATLAB doc; see note).

    Weights (OutputSize, MaxPosition). The layer *outputs the embedding* of each time
    index: y[:, n, t] = Weights[:, t] (1-based position t+1), shape (OutputSize, N, T).
    It does not add its input — networks add it explicitly (tsx_transformer_demo wires
    input → pos-emb → add/in1 and input → add/in2). SEM §Attention's "added to the input"
    describes the pair, not the layer.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    _, n, t_len = x.shape
    if t_len > w.shape[1]:
        raise ValueError(f"sequence length {t_len} exceeds MaxPosition {w.shape[1]}")
    return np.broadcast_to(w[:, None, :t_len], (w.shape[0], n, t_len)).copy()


def embedding_concatenation(x: Array, weights: Array) -> Array:
    """embeddingConcatenationLayer on a sequence (C,N,T) (MATLAB doc: "combines its input
    and an embedding vector by concatenation"; MATLAB's TensorFlow exporter puts the
    vector first along time). Weights: one value per channel. Output (C, N, T + 1):
    y[:, n, 0] = Weights, y[:, n, 1:] = x[:, n, :]."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).ravel()
    c, n, _ = x.shape
    if w.size != c:
        raise ValueError(f"{w.size} weights for {c} channels")
    first = np.broadcast_to(w[:, None, None], (c, n, 1))
    return np.concatenate([first, x], axis=2)


def word_embedding(x: Array, weights: Array, num_words: int | None = None) -> Array:
    """wordEmbeddingLayer (SEM §Attention and embeddings).

    Input (1,N,T) of 1-based word indices; Weights (Dimension, NumWords[+1]). An index
    that is not an integer in 1…NumWords (or NaN) maps to the last (OOV) column.
    Output (Dimension, N, T).
    """
    w = np.asarray(weights, dtype=np.float64)
    idx = np.asarray(x, dtype=np.float64)
    if idx.ndim == 3:
        idx = idx[0]
    nw = int(num_words) if num_words else w.shape[1]
    valid = np.isfinite(idx) & (idx == np.round(idx)) & (idx >= 1) & (idx <= nw)
    col = np.where(valid, np.nan_to_num(idx, nan=1.0) - 1, w.shape[1] - 1).astype(int)
    return w[:, col]


def indexing1d(x: Array, index: Any = "last") -> Array:
    """indexing1dLayer on a sequence (C,N,T): 'last' → x[:, :, T] (C,N); an integer
    index is 1-based."""
    x = np.asarray(x, dtype=np.float64)
    if isinstance(index, str):
        if index != "last":
            raise ValueError(f"unsupported Index {index!r}")
        return x[:, :, -1]
    return x[:, :, int(index) - 1]


# ---------------------------------------------------------------- layers


def _self_attention_layer(p: Props, xs: list[Array]) -> Array:
    if "HasPaddingMaskInput" in p and as_bool(p["HasPaddingMaskInput"]):
        raise NotImplementedError("self-attention with a padding mask input")
    parts = ("Query", "Key", "Value", "Output")
    return self_attention(
        xs[0],
        *(as_f64(p[f"{part}Weights"]) for part in parts),
        *(param(p, f"{part}Bias") for part in parts),
        num_heads=as_int(p["NumHeads"]),
        attention_mask=as_str(p.get("AttentionMask", "none")) or "none",
    )


def _word_embedding_layer(p: Props, xs: list[Array]) -> Array:
    nw = p.get("NumWords")
    return word_embedding(
        xs[0], as_f64(p["Weights"]), None if is_empty(nw) else as_int(nw)
    )


def _indexing1d_layer(p: Props, xs: list[Array]) -> Array:
    idx = as_str(p.get("Index", "last"))
    return indexing1d(xs[0], idx if not idx.lstrip("-").isdigit() else int(idx))


LAYERS: dict[str, LayerRule] = {
    "SelfAttentionLayer": _self_attention_layer,
    "PositionEmbeddingLayer": lambda p, xs: position_embedding(
        xs[0], as_f64(p["Weights"])
    ),
    "WordEmbeddingLayer": _word_embedding_layer,
    "EmbeddingConcatenationLayer": lambda p, xs: embedding_concatenation(
        xs[0], as_f64(p["Weights"])
    ),
    "Indexing1DLayer": _indexing1d_layer,
}
