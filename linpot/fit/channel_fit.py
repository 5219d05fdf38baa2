"""Element channels fitted to the data: ``channels = {kind = "fitted", n_channels = K}``.

The compact coupling of K element channels ``a_k = sum_s w[k, s] a_s`` gives, at order 2, the
energy terms ``sum_k c_k (a_k . a_k) = a^T W^T diag(c) W a`` for each radial index ``n``, ``l`` and
central element: a coefficient matrix over element pairs that is diagonal in the channel basis.
The complete invariants allow any symmetric matrix ``C[s, s']`` there. So the channels that lose
least are those that diagonalise, all at once, the order-2 coefficient matrices of a complete fit:

1. fit the complete invariants of orders 1 and 2 only (the recipe's radial basis, ``n_max`` and
   ``l_max`` of those orders, a linear model, the recipe's fit settings; cheap: they grow as S^2);
2. collect, per central element, radial index and l, the matrix ``C[s, s']`` of the physical
   coefficients (``c / scale``) of the invariants ``a_{s n l} . a_{s' n l}`` (off-diagonal ones
   halved: each pair appears once), each matrix scaled by the typical size of its features so
   that every (n, l) counts by its share of the energy;
3. the orthogonal ``W`` that jointly diagonalises them (:func:`joint_diagonalisation`: Jacobi
   rotations, Cardoso & Souloumiac, SIAM J. Matrix Anal. Appl. 17, 161 (1996)), its rows ordered
   by the weight they carry; the first K rows are the channels.

With K = S the channels span every element, as the property channels do; the difference is which
products of densities the compact coupling keeps. The weights are written into the spec
(``{kind = "fitted", n_channels, weights}``), so the potential file does not need this fit again.
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from ..errors import LinpotInputError

log = logging.getLogger(__name__)


def joint_diagonalisation(matrices, tolerance: float = 1e-12, max_sweeps: int = 100) -> np.ndarray:
    """The orthogonal ``V`` (rows = the common eigenvectors) that makes every ``V A V^T`` of the
    symmetric ``matrices`` as diagonal as possible (least squares of the off-diagonal entries), by
    Jacobi rotations: for each pair (p, q) the rotation angle that is optimal for all matrices at
    once (the principal eigenvector of ``sum_k h_k h_k^T``, ``h_k = (A_pp - A_qq, 2 A_pq)``)."""
    A = np.array([0.5 * (np.asarray(m, float) + np.asarray(m, float).T) for m in matrices])
    n = A.shape[1]
    V = np.eye(n)
    for _ in range(max_sweeps):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                h = np.stack([A[:, p, p] - A[:, q, q], 2.0 * A[:, p, q]])
                G = h @ h.T
                vals, vecs = np.linalg.eigh(G)
                x, y = vecs[:, -1]
                if x < 0:
                    x, y = -x, -y
                r = np.hypot(x, y)
                if r == 0.0:
                    continue
                c = np.sqrt((x + r) / (2 * r))
                s = y / np.sqrt(2 * r * (x + r))
                if abs(s) <= tolerance:
                    continue
                rotated = True
                R = np.eye(n)
                R[p, p] = R[q, q] = c
                R[p, q], R[q, p] = -s, s
                A = R.T @ A @ R
                V = V @ R
        if not rotated:
            break
    return V.T


def order_two_matrices(potential) -> list[np.ndarray]:
    """Per central element, radial index n and l: the matrix ``C[s, s']`` of the physical
    coefficients of the complete order-2 invariants ``a_{s n l} . a_{s' n l}`` (off-diagonal
    entries halved), scaled by the mean scale of its diagonal features."""
    model = potential.model
    d = model.descriptor
    S = len(d.elements)
    N = d.radial.n_basis
    t = d.kernel_tables()
    coef = np.asarray(potential.coefficients).reshape(S, 1 + model.n_terms)
    blocks: dict = {}
    for k in range(d.n_features):
        if d.feature_orders[k] != 2:
            continue
        ls = [int(v) for v in t.type_pos_l[t.feat_type[k]] if v >= 0]
        channels = [int(c) for c in t.feat_channel[k, :2]]
        (s1, n), (s2, _) = divmod(channels[0], N), divmod(channels[1], N)
        for centre in range(S):
            C, scales = blocks.setdefault((centre, n, ls[0]), (np.zeros((S, S)), []))
            value = coef[centre, 1 + k] / model.feature_scale[k]
            if s1 == s2:
                C[s1, s1] += value
                scales.append(model.feature_scale[k])
            else:
                C[s1, s2] += 0.5 * value
                C[s2, s1] += 0.5 * value
    return [C * (np.mean(scales) if scales else 1.0) for C, scales in blocks.values()]


def fitted_channel_weights(potential, n_channels: int) -> np.ndarray:
    """The first ``n_channels`` rows of the joint diagonaliser of :func:`order_two_matrices`,
    ordered by the summed squares of the diagonal they carry; each row's sign makes its largest
    weight positive."""
    matrices = order_two_matrices(potential)
    V = joint_diagonalisation(matrices)
    carried = sum(np.diag(V @ M @ V.T) ** 2 for M in matrices)
    V = V[np.argsort(-carried, kind="stable")]
    V *= np.sign(V[np.arange(len(V)), np.argmax(np.abs(V), axis=1)])[:, None]
    return V[:n_channels]


def resolve_fitted_channels(train, config: dict, fit) -> dict:
    """``config`` with ``channels = {kind = "fitted", n_channels = K}`` replaced by the fitted
    weights (module docstring); ``fit(train, config)`` is the fit to use for the order-2 model."""
    d = config.get("descriptor", {})
    channels = d.get("channels") if isinstance(d, dict) else None
    if not (isinstance(channels, dict) and channels.get("kind") == "fitted" and "weights" not in channels):
        return config
    elements = config.get("elements") or train.elements
    K = int(channels.get("n_channels", len(elements)))
    if not 1 <= K <= len(elements):
        raise LinpotInputError(f"fitted channels: n_channels must be 1 to the number of elements ({len(elements)}), "
                               f"got {K}")
    low = [list(o) for o in d.get("orders", []) if int(o[0]) <= 2]
    if not any(int(o[0]) == 2 for o in low):
        raise LinpotInputError("fitted channels need order 2 among the invariant orders")
    pre = copy.deepcopy(config)
    pre["descriptor"] = {key: value for key, value in d.items() if key not in ("channels", "mixed_orders")}
    pre["descriptor"].update(orders=low, element_coupling="complete")
    pre["model"] = {"kind": "polynomial", "degree": 1}
    pre["elements"] = list(elements)
    log.info("fitted channels: complete order-2 fit for %d channels over %d elements", K, len(elements))
    potential, _ = fit(train, pre)
    weights = fitted_channel_weights(potential, K)
    out = copy.deepcopy(config)
    out["descriptor"]["channels"] = {"kind": "fitted", "n_channels": K, "weights": weights.tolist()}
    return out
