"""Outlier scores from an ensemble of small autoencoders (the engine of ``AutoencoderOutlierDetector``).

Chen, Sathe, Aggarwal & Turaga, "Outlier detection with autoencoder ensembles" (SDM 2017):
several small autoencoders, each on a random subset of the features and of the training rows,
their standardised reconstruction errors combined. Here all members train at once as one
batched network (weights of shape (K, in, out), one ``torch.baddbmm`` per layer), each with its
own feature mask M_k, row sample and held-out rows (early stopping, error scales).

Scaling, robust to heavy tails and fitted on the training data (:class:`RobustScaler`):
u = (x − median) / (IQR / 1.349), then t(u) = c·asinh(u / c), the identity near 0 and
logarithmic beyond ±c. The networks learn on t(u); errors are measured after t⁻¹, so a far-out
value keeps its full size in the score without having dominated training.

Score of a row x under member k (ẑ its reconstruction, y its code):

    e_kj = |t⁻¹(ẑ_j) − u_j| / ē_kj,  j ∈ M_k    (ē_kj: mean of |t⁻¹(ẑ_j) − u_j| on k's held-out rows)
    s_k  = mean_j e_kj + λ·(y − ȳ_k)ᵀ Σ_k⁻¹ (y − ȳ_k) / dim(y)   (code mean and covariance on held-out rows)
    score(x) = mean_k (s_k − med_k) / mad_k

with med_k and mad_k the median and scaled MAD of s_k over the training rows, so that
features and members count alike whatever their scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .nn.layers import batched_dense

__all__ = ["AutoencoderEnsemble", "EnsembleSettings", "RobustScaler", "layer_sizes"]


@dataclass(frozen=True)
class EnsembleSettings:
    """Settings of :class:`AutoencoderEnsemble` (``None``: chosen from the data)."""

    n_members: int = 16
    feature_fraction: float | None = None  # share of features per member; None: all for d <= 8, else ½..1
    max_samples: int = 2048  # rows per member, held-out rows included
    hidden: tuple[int, ...] | None = None  # encoder sizes, bottleneck last
    noise: float = 0.1  # std of the Gaussian input noise while training
    epochs: int = 100  # passes over a member's rows ...
    max_steps: int = 100  # ... but at most this many steps
    batch_size: int = 128
    lr: float = 0.04
    weight_decay: float = 1e-5
    validation_fraction: float = 0.2
    patience: int = 8  # checks without improvement before a member stops
    latent_weight: float = 0.3  # λ: weight of the code's Mahalanobis distance
    squash: float | None = 3.0  # c of the scaler's t(u) = c·asinh(u/c), undone before errors


def layer_sizes(d: int, hidden: tuple[int, ...] | None = None) -> list[int]:
    """Encoder sizes for ``d`` features: ``hidden``, else (clip(4√d, 8, 64), clip(√d, 2, hidden/2))."""
    if hidden:
        return list(hidden)
    width = int(np.clip(round(4 * math.sqrt(d)), 8, 64))
    return [width, int(np.clip(round(math.sqrt(d)), 2, width // 2))]


class RobustScaler:
    """u = (x − median) / (IQR / 1.349) per feature (the std, then 1, where the IQR is 0)."""

    def fit(self, X: np.ndarray) -> RobustScaler:
        """Learn the medians and scales of the training data ``X``."""
        self.center_ = np.median(X, axis=0)
        q1, q3 = np.percentile(X, [25, 75], axis=0)
        scale = (q3 - q1) / 1.349
        scale = np.where(scale > 0, scale, X.std(axis=0))
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """u = (x − median) / scale."""
        return (X - self.center_) / self.scale_


class _Members(nn.Module):
    """K autoencoders d → hidden… → code → …hidden → d, trained side by side.

    Hidden layers are tanh, the code and the output linear; every layer is one
    :func:`~aekit.nn.layers.batched_dense` on weights (K, in, out) and biases (K, 1, out). All of
    them are views of one parameter ``theta`` (K, P), member k's parameters in row k: the
    optimiser updates one tensor per step, and a member's weights are one row to keep or restore.
    """

    def __init__(self, k: int, d: int, encoder: list[int]):
        super().__init__()
        dims = [d, *encoder, *encoder[-2::-1], d]
        self.code_layer = len(encoder) - 1
        self.layout = list(zip(dims[:-1], dims[1:], strict=True))  # (in, out) of every layer
        self.theta = nn.Parameter(torch.zeros(k, sum((i + 1) * o for i, o in self.layout)))
        with torch.no_grad():
            for w, _b in self.layers():
                bound = 1 / math.sqrt(w.shape[1])
                w.uniform_(-bound, bound)  # biases stay 0
        last = len(self.layout) - 1
        self.activations = ["linear" if i in (self.code_layer, last) else "tanh" for i in range(last + 1)]

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weights (K, in, out), biases (K, 1, out)) of every layer, views of ``theta``."""
        k = self.theta.shape[0]
        sizes = [n for fan_in, fan_out in self.layout for n in (fan_in * fan_out, fan_out)]
        parts = torch.split(self.theta, sizes, dim=1)  # one view per weight and bias, one op to differentiate
        return [
            (parts[2 * i].view(k, fan_in, fan_out), parts[2 * i + 1].view(k, 1, fan_out))
            for i, (fan_in, fan_out) in enumerate(self.layout)
        ]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (K, B, d) → (reconstructions (K, B, d), codes (K, B, code))."""
        code = x
        for i, ((w, b), act) in enumerate(zip(self.layers(), self.activations, strict=True)):
            x = batched_dense(x, w, b, act)
            if i == self.code_layer:
                code = x
        return x, code


class AutoencoderEnsemble:
    """Train the members on scaled data and score rows (formulas in the module docstring)."""

    def __init__(self, settings: EnsembleSettings):
        self.settings = settings

    def fit(self, U: np.ndarray, seed: int) -> AutoencoderEnsemble:
        """Train on the scaled training rows ``U`` (n, d) under ``seed``; learn the error and score scales."""
        st = self.settings
        n, d = U.shape
        k = st.n_members
        rng = np.random.default_rng(seed)
        self.masks_ = self._feature_masks(d, k, rng)
        n_val = int(round(min(n, st.max_samples) * st.validation_fraction)) if n >= 10 else 0
        n_fit = max(1, min(n - n_val, st.max_samples - n_val))
        orders = [rng.permutation(n) for _ in range(k)]
        rows_fit = np.stack([o[:n_fit] for o in orders])
        rows_val = np.stack([o[n_fit : n_fit + n_val] if n_val else o[:n_fit] for o in orders])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _Members(k, d, layer_sizes(int(self.masks_.sum(1).max()), st.hidden))
            T = torch.from_numpy(np.ascontiguousarray(self._squash(U), dtype=np.float32))
            self._train(net, T, rows_fit, rows_val, rng)
        self.net_ = net.double().eval()
        err, codes = self._errors(U[rows_val])  # (K, n_val, d), (K, n_val, code)
        mean_err = err.sum(axis=1) / err.shape[1]
        self.error_scale_ = np.where(mean_err > 1e-12, mean_err, 1.0)
        self.code_mean_ = codes.mean(axis=1, keepdims=True)
        centred = codes - self.code_mean_
        cov = np.einsum("kni,knj->kij", centred, centred) / max(1, codes.shape[1] - 1)
        ridge = 1e-3 * np.trace(cov, axis1=1, axis2=2) / cov.shape[-1] + 1e-9
        self.code_precision_ = np.linalg.inv(cov + ridge[:, None, None] * np.eye(cov.shape[-1]))
        train = self.member_scores(U)
        self.center_ = np.median(train, axis=0)
        mad = 1.4826 * np.median(np.abs(train - self.center_), axis=0)
        spread = np.where(mad > 1e-12, mad, train.std(axis=0))
        self.spread_ = np.where(spread > 1e-12, spread, 1.0)
        self.train_scores_ = self._combine(train)
        return self

    def _squash(self, U: np.ndarray) -> np.ndarray:
        c = self.settings.squash
        return c * np.arcsinh(U / c) if c else U

    def _feature_masks(self, d: int, k: int, rng: np.random.Generator) -> np.ndarray:
        frac = self.settings.feature_fraction
        masks = np.zeros((k, d), dtype=bool)
        for i in range(k):
            if frac is None:
                m = d if d <= 8 else int(rng.integers(math.ceil(d / 2), d + 1))
            else:
                m = max(1, min(d, round(frac * d)))
            masks[i, rng.choice(d, size=m, replace=False)] = True
        return masks

    def _train(
        self,
        net: _Members,
        T: torch.Tensor,
        rows_fit: np.ndarray,
        rows_val: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Adam on the masked squared error, per member; keep each member's best held-out weights.

        Member k's loss: mean over its batch rows of Σ_{j∈M_k} (ẑ_j − t_j)² / |M_k|, the members'
        losses summed (members that stopped early drop out of the sum).
        """
        st = self.settings
        k, n_fit = rows_fit.shape
        bs = min(st.batch_size, n_fit)
        steps_per_epoch = max(1, n_fit // bs)
        total = min(st.max_steps, st.epochs * steps_per_epoch)
        check_every = max(1, total // 20)
        mask = torch.from_numpy(self.masks_.astype(np.float32))[:, None, :]  # (K, 1, d)
        per_entry = mask / mask.sum(-1, keepdim=True)  # 1/|M_k| on k's features, 0 elsewhere
        flat = (T[torch.from_numpy(rows_fit)] * mask).reshape(k * n_fit, -1)  # member k's rows at k·n_fit…
        first_row = torch.arange(k)[:, None] * n_fit
        val = T[torch.from_numpy(rows_val)] * mask
        # input noise: a bank of 2·B noise rows per member, a random window of B of them per step
        bank = st.noise * torch.randn(k, 2 * bs, flat.shape[1]) * mask if st.noise else None
        opt = torch.optim.Adam([net.theta], lr=st.lr, weight_decay=st.weight_decay)
        best = torch.full((k,), float("inf"))
        best_theta = net.theta.detach().clone()
        stale = torch.zeros(k, dtype=torch.long)
        active = torch.ones(k, dtype=torch.bool)
        weight = per_entry / bs  # the active members' loss weights
        for step in range(total):
            x = flat[torch.from_numpy(rng.integers(0, n_fit, size=(k, bs))) + first_row]  # (K, B, d)
            noisy = x
            if bank is not None:
                start = int(rng.integers(0, bs + 1))
                noisy = x + bank[:, start : start + bs]
            loss = ((net(noisy)[0] - x) ** 2 * weight).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (step + 1) % check_every and step != total - 1:
                continue
            with torch.no_grad():
                v = ((net(val)[0] - val) ** 2 * per_entry).sum((1, 2)) / val.shape[1]
                better = (v < best - 1e-6) & (stale < st.patience)
                best_theta[better] = net.theta.detach()[better]
                best = torch.where(better, v, best)
                stale = torch.where(better, torch.zeros_like(stale), stale + 1)
                active = stale < st.patience
                weight = per_entry * (active[:, None, None] / bs)
            if not active.any():
                break
        with torch.no_grad():
            net.theta.copy_(best_theta)

    def _errors(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """|t⁻¹(ẑ) − u| (K, n, d), zero outside each member's features, and the codes (K, n, code).

        ``U``: (n, d) rows for every member, or (K, n, d) one set per member. Float64, so that a
        row's score does not depend on the other rows of the batch.
        """
        mask = torch.from_numpy(self.masks_.astype(np.float64))[:, None, :]
        u = torch.from_numpy(np.ascontiguousarray(U, dtype=np.float64))
        c = self.settings.squash
        with torch.inference_mode():
            t = c * torch.asinh(u / c) if c else u  # once per row, before the members' copies
            if u.dim() == 2:
                t, u = t.expand(len(mask), *t.shape), u.expand(len(mask), *u.shape)
            recon, code = self.net_(t * mask)
            if c:
                recon = c * torch.sinh(recon.clamp(-30 * c, 30 * c) / c)
            err = (recon - u).abs() * mask
        return err.numpy(), code.numpy()

    def member_scores(self, U: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """s_k of every row: (n, K)."""
        count = self.masks_.sum(1)[:, None]
        out = []
        for i in range(0, len(U), chunk):
            err, codes = self._errors(U[i : i + chunk])
            s = (err / self.error_scale_[:, None, :]).sum(-1) / count
            if self.settings.latent_weight:
                centred = codes - self.code_mean_
                m = np.einsum("kni,kij,knj->kn", centred, self.code_precision_, centred) / codes.shape[-1]
                s = s + self.settings.latent_weight * m
            out.append(s.T)
        return np.concatenate(out)

    def _combine(self, member: np.ndarray) -> np.ndarray:
        """score = mean_k (s_k − med_k) / mad_k from the member scores (n, K)."""
        return ((member - self.center_) / self.spread_).mean(axis=1)

    def score(self, U: np.ndarray) -> np.ndarray:
        """Anomaly score of each scaled row (higher = more anomalous); ``train_scores_`` for the training rows."""
        return self._combine(self.member_scores(U))
