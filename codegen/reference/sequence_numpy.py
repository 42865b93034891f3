"""NumPy reference for the sequence rules that ``matlab_numpy`` does not cover: attention
with padding and custom masks, attentionLayer (query/key/value inputs), layer
normalization over channels *and* time, and per-observation evaluation of padded batches.

Same conventions as :mod:`codegen.reference.matlab_numpy`: MATLAB layout (sequences
(C, N, T)), parameters as stored in the file, float64, explicit loops that read like the
defining formula. Written from ``shared/docs/SEMANTICS.md`` §Attention and MATLAB's
documentation of ``attention``; it imports neither torch nor ``codegen``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from codegen.reference.matlab_numpy.attention import project_steps

Array = np.ndarray


def _softmax(scores: Array) -> Array:
    e = np.exp(scores - scores.max())
    return e / e.sum()


def attention(
    queries: Array,
    keys: Array,
    values: Array,
    num_heads: int,
    scale: float | None = None,
    causal: bool = False,
    key_mask: Array | None = None,
    mask: Array | None = None,
) -> Array:
    """MATLAB's ``attention`` on (C, N, T) arrays, one observation and head at a time.

    Head j uses channel rows j·d … (j+1)·d − 1 of queries/keys (d = dk/heads) and the same
    block of values. For query step q of observation n, key step k takes part when
    k ≤ q (``causal``), ``key_mask[k, n]`` is nonzero (MATLAB's padding mask, (T, N)) and
    ``mask[k, q]`` is nonzero (a custom keys × queries mask). Scores are
    scale · Σ_c Q[c, q]·K[c, k] with scale = 1/sqrt(d) by default; softmax over the
    participating keys; output Σ_k p_k·V[:, k]. A query with no participating key (only
    at padded steps) is left at zero.
    """
    q = np.asarray(queries, dtype=np.float64)
    k = np.asarray(keys, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    dk, n_obs, t_q = q.shape
    dv, _, t_k = v.shape
    hk, hv = dk // num_heads, dv // num_heads
    sc = 1.0 / math.sqrt(hk) if scale is None else float(scale)
    out = np.zeros((dv, n_obs, t_q))
    for n in range(n_obs):
        for j in range(num_heads):
            for tq in range(t_q):
                keep = [
                    tk
                    for tk in range(t_k)
                    if (not causal or tk <= tq)
                    and (key_mask is None or key_mask[tk, n])
                    and (mask is None or mask[tk, tq])
                ]
                if not keep:
                    continue
                scores = np.array(
                    [
                        sc
                        * float(
                            q[j * hk : (j + 1) * hk, n, tq]
                            @ k[j * hk : (j + 1) * hk, n, tk]
                        )
                        for tk in keep
                    ]
                )
                p = _softmax(scores)
                out[j * hv : (j + 1) * hv, n, tq] = sum(
                    pi * v[j * hv : (j + 1) * hv, n, tk]
                    for pi, tk in zip(p, keep, strict=True)
                )
    return out


def self_attention(
    x: Array,
    query_weights: Array,
    key_weights: Array,
    value_weights: Array,
    output_weights: Array,
    biases: Sequence[Array],
    num_heads: int,
    causal: bool = False,
    key_mask: Array | None = None,
    mask: Array | None = None,
) -> Array:
    """selfAttentionLayer with every mask option: Q = W_Q x + b_Q (per time step), K, V
    likewise, :func:`attention`, then W_O · A + b_O. ``biases`` = (b_Q, b_K, b_V, b_O).
    The per-step projections are the shared :func:`project_steps`; the attention itself is
    this module's own loop, independent of ``matlab_numpy.self_attention``."""
    x = np.asarray(x, dtype=np.float64)
    bq, bk, bv, bo = biases
    a = attention(
        project_steps(query_weights, bq, x),
        project_steps(key_weights, bk, x),
        project_steps(value_weights, bv, x),
        num_heads,
        causal=causal,
        key_mask=key_mask,
        mask=mask,
    )
    return project_steps(output_weights, bo, a)


def layer_norm_over_channels_and_time(
    x: Array, scale: Array, offset: Array, epsilon: float
) -> Array:
    """layerNormalizationLayer, OperationDimension 'batch-excluded', on a sequence (C, N, T):
    mean and biased variance over C and T of each observation; per-channel Scale/Offset.
    """
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=(0, 2), keepdims=True)
    var = ((x - mu) ** 2).mean(axis=(0, 2), keepdims=True)
    s = np.asarray(scale, np.float64).reshape(-1, 1, 1)
    o = np.asarray(offset, np.float64).reshape(-1, 1, 1)
    return s * (x - mu) / np.sqrt(var + epsilon) + o


def per_observation(
    fn: Callable[[Array], Array], sequences: Sequence[Array]
) -> list[Array]:
    """Run ``fn`` on each (C, T_i) sequence alone, as a batch of one (C, 1, T_i): what MATLAB
    gives for an observation that is not padded. Returns each result without the batch
    dimension ((C', T_i) or (C',) for 'last' outputs)."""
    results = []
    for seq in sequences:
        y = fn(np.asarray(seq, dtype=np.float64)[:, None, :])
        results.append(y[:, 0])
    return results
