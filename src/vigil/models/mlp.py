"""The MLP fraud scorer as the engine serves it: a numpy forward pass of exported weights.

The federated MLP (``vigil.federated.model.FraudMLP``: ReLU layers, one logit) is trained with
torch, but serving it with torch would cost more than the model: one row through torch's
dispatcher and autograd bookkeeping takes tens of microseconds for three small matrix products,
and torch is a large import for a server that otherwise needs none. The weights are plain
arrays, so serving is three ``numpy`` products on a row (see docs/federated.md for the timings
against the compiled GBDT), with the same input transform as training:

    missing as 0, signed ``log1p``, then ``(x - shift) / scale``

``shift`` and ``scale`` are a standardisation the federation computed from the pools' sums and
counts (zeros and ones when the model was trained without one).

Reasons: integrated gradients (Sundararajan et al., 2017) of the logit from the baseline input
(the transformed zero vector: with standardisation, the pools' mean payment), by a midpoint
Riemann sum. Unlike gradient × input, its contributions add up to ``logit(x) - logit(baseline)``
(up to the sum's discretisation), so like TreeSHAP's they read as a share of the score; the
baseline's logit is the base value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

WEIGHTS = "mlp.npz"


class MlpError(ValueError):
    pass


class MlpScorer:
    """A ReLU MLP with one output logit, held as float64 arrays (read-only after loading)."""

    kind = "mlp"

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        shift: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        steps: int = 64,
    ):
        if not weights or len(weights) != len(biases):
            raise MlpError(f"{len(weights)} weight matrices for {len(biases)} bias vectors")
        width = np.asarray(weights[0]).shape[1]
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            w, b = np.asarray(w), np.asarray(b)
            if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
                raise MlpError(f"layer {i}: weight {w.shape} and bias {b.shape} do not chain")
            width = w.shape[0]
        if width != 1:
            raise MlpError(f"the last layer has {width} outputs; the scorer needs one logit")
        n = np.asarray(weights[0]).shape[1]
        self.n_features = n
        # stored transposed and contiguous: a row times W^T is one BLAS call per layer
        self._weights_t = [np.ascontiguousarray(np.asarray(w, dtype=np.float64).T) for w in weights]
        self._biases = [np.asarray(b, dtype=np.float64) for b in biases]
        self.shift = np.zeros(n) if shift is None else np.asarray(shift, dtype=np.float64)
        self.scale = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
        if self.shift.shape != (n,) or self.scale.shape != (n,):
            raise MlpError(f"shift {self.shift.shape} and scale {self.scale.shape}: need ({n},)")
        if not np.all(self.scale > 0):
            raise MlpError("scale must be positive for every feature")
        # skipped when it is the identity: each numpy call costs ~1 µs on a single row
        self._standardised = bool(np.any(self.shift != 0) or np.any(self.scale != 1))
        if steps < 1:
            raise MlpError("integrated gradients need at least one step")
        self.steps = steps
        self._alphas = ((np.arange(steps) + 0.5) / steps)[:, None]

    @classmethod
    def from_arrays(
        cls,
        arrays: Sequence[np.ndarray],
        shift: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> MlpScorer:
        """From torch's parameter order: weight, bias, weight, bias, ..."""
        if len(arrays) % 2:
            raise MlpError(f"{len(arrays)} arrays: expected weight/bias pairs")
        return cls(list(arrays[0::2]), list(arrays[1::2]), shift, scale)

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(w.shape[1] for w in self._weights_t[:-1])

    def arrays(self) -> list[np.ndarray]:
        """Weights and biases in torch's parameter order (for a torch model or a test)."""
        out = []
        for w, b in zip(self._weights_t, self._biases, strict=True):
            out += [w.T.copy(), b.copy()]
        return out

    # ---- scoring ------------------------------------------------------------------------------
    def transform(self, matrix: np.ndarray) -> np.ndarray:
        x = np.asarray(matrix, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise MlpError(f"matrix of shape {x.shape}: expected (rows, {self.n_features})")
        x = np.where(np.isfinite(x), x, 0.0)  # as nan_to_num(..., 0), at a fifth of its cost
        z = np.copysign(np.log1p(np.abs(x)), x)
        if self._standardised:
            z -= self.shift
            z /= self.scale
        return z

    def _logits(self, h: np.ndarray) -> np.ndarray:
        for w, b in zip(self._weights_t[:-1], self._biases[:-1], strict=True):
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        return (h @ self._weights_t[-1])[:, 0] + self._biases[-1][0]

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        return self._logits(self.transform(matrix))

    def raw_scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """Probabilities before calibration (``threads`` is accepted for the bundle's protocol:
        numpy's products on these sizes are single-threaded work anyway)."""
        return 1.0 / (1.0 + np.exp(-self.logits(matrix)))

    # ---- reasons ------------------------------------------------------------------------------
    def _integrated_gradients(self, z: np.ndarray) -> np.ndarray:
        """Integrated gradients of the logit at transformed input ``z`` from the zero baseline."""
        path = self._alphas * z  # (steps, features): points on the line from 0 to z
        masks, h = [], path
        for w, b in zip(self._weights_t[:-1], self._biases[:-1], strict=True):
            pre = h @ w + b
            masks.append(pre > 0)
            h = np.maximum(pre, 0.0)
        grad = np.broadcast_to(self._weights_t[-1][:, 0], (len(path), h.shape[1]))
        for w, mask in zip(reversed(self._weights_t[:-1]), reversed(masks), strict=True):
            grad = (grad * mask) @ w.T  # through the ReLU, then back through the layer
        return z * grad.mean(axis=0)

    def attribution(self) -> Callable[[np.ndarray], np.ndarray]:
        """Per-feature contributions (logit units) of one row, or of each row of a matrix, for
        the engine's reason codes."""

        def contributions(rows: np.ndarray) -> np.ndarray:
            each = [self._integrated_gradients(z) for z in self.transform(np.atleast_2d(rows))]
            return np.vstack(each) if np.ndim(rows) == 2 else each[0]

        return contributions

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Integrated gradients of one row; the last entry is the base value (the baseline's
        logit), so the entries add up to the row's logit, as TreeSHAP's do."""
        z = self.transform(row.reshape(1, -1))[0]
        base = float(self._logits(np.zeros((1, self.n_features)))[0])
        return np.append(self._integrated_gradients(z), base)

    # ---- files --------------------------------------------------------------------------------
    def digest(self) -> str:
        """A content hash of everything that decides a score (stamped into the version)."""
        h = hashlib.sha256()
        for array in [*self.arrays(), self.shift, self.scale]:
            h.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        return h.hexdigest()

    def save(self, folder: Path) -> Path:
        path = Path(folder) / WEIGHTS
        layers = {}
        for i, (w, b) in enumerate(zip(self._weights_t, self._biases, strict=True)):
            layers[f"weight_{i}"], layers[f"bias_{i}"] = w.T, b
        np.savez(path, shift=self.shift, scale=self.scale, **layers)
        return path

    @classmethod
    def load(cls, folder: Path) -> MlpScorer:
        path = Path(folder) / WEIGHTS
        if not path.exists():
            raise MlpError(f"{folder}: no {WEIGHTS}")
        with np.load(path) as data:
            depth = sum(1 for name in data.files if name.startswith("weight_"))
            try:
                weights = [data[f"weight_{i}"] for i in range(depth)]
                biases = [data[f"bias_{i}"] for i in range(depth)]
                shift, scale = data["shift"], data["scale"]
            except KeyError as missing:
                raise MlpError(f"{path}: missing array {missing}") from None
        return cls(weights, biases, shift, scale)
