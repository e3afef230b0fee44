"""CDiff (Zeng et al., ICML 2024): N future events at once from two interacting diffusion processes.

Times: a Gaussian DDPM on the Box-Cox-standardised inter-arrival times x ∈ ℝᴺ; types: a multinomial
diffusion on e ∈ {0..K−1}ᴺ; one shared step t ~ U{0..T−1} per training window (spec tpp.md §3). The reverse
process factorises (spec §4) as

    p_θ(x_{t−1}, e_{t−1} | x_t, e_t, h) = p_θ(x_{t−1} | x_t, e_t, h) · p_θ(e_{t−1} | e_t, x_t, h),

so the time denoiser ε_θ(x_t, e_t, t, h) sees the other chain's current types and the type denoiser
f_θ(e_t, x_t, t, h) the current times; both cross-attend to the Transformer-encoded history h. Sampling
runs both chains from (N(0, I), Uniform) and updates each from the *pre-update* states; S samples are
reduced to a point forecast by :func:`agents.forecasters.common.point_forecast` (mean τ, mode type).

The original code's quirks (spec §6 checklist) are config choices. :meth:`CDiffConfig.original` is the
paper's CDiff as its code runs (the headline model of ``tpp_forecasting``, at the code's T = 200); the
dataclass defaults are the project's variant (``cdiff_recast`` there), with the principled choices:

1. ``condition_on``: ``noisy`` (default; the factorisation above, same inputs in training and sampling)
   or ``clean`` (original: training conditions each denoiser on the *clean* other modality).
2. ``time_schedule``: ``linear`` (default; reaches N(0, I), ᾱ_{T−1} ≈ 3e-5 at T = 200) or
   ``linear_original`` (β 1e-6 → 1e-2; ᾱ_{T−1} = 0.37, yet sampling starts from N(0, I)).
3. ``time_loss`` L1 and the T-weighted type ELBO are kept as in the original (a design choice, not a bug).
4. ``lr_schedule``: ``cosine`` (default; one half-cosine over training) or ``cosine_cyclic`` (original:
   T_max = epochs but stepped per iteration, so the learning rate cycles).
5. The original's EMA is never used for evaluation, so it is left out.
6. ``horizon_mask``: ``none`` (default; generation is joint) or ``causal`` (original: causal mask over
   horizon positions in both denoisers).
8. Checkpoint selection on dev OTD uses ``eval_samples`` samples (1 in the original).

Ours, not the original's: when sampling, x̂_0 of the time chain is clipped to ±``clip_x0`` standard units
(Ho et al.'s "clip_denoised"; 3 by default, chosen in a pilot on seed-0 synthetic data, 0 disables it): with a
schedule that reaches pure noise, an under-trained ε̂ is amplified by up to 1/√ᾱ_{T−1} and the mean-τ point
forecast then suffers from a few huge samples. The original's two identical TE(x_t) blocks of width d/4 are
one TE of width d/2. History times enter TE(t) relative to the window's start, in units of the mean
training gap (the original feeds the file's absolute ``time_since_start``, ≈ 1.5e5 on Taobao).

Box-Cox (spec §2): scale = (1/τ̄)^p and λ fitted on 0 < τ < cut-off; the original's per-data settings are
p = 5.5, cut-off 0.5 (Taobao), p = 2, cut-off τ̄ + σ_τ (synthetic), p = 5, cut-off τ̄ + σ_τ (others, the
``None`` defaults here).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.diffusion import GaussianDiffusion, MultinomialDiffusion, make_schedule
from agents.forecasters.common import BestCheckpoint, BoxCoxStandardizer, EventBatch, Forecaster
from agents.forecasters.encoders import HistoryEncoder, sinusoid

CHOICES = {"condition_on": ("noisy", "clean"), "horizon_mask": ("none", "causal"), "time_loss": ("l1", "l2"),
           "lr_schedule": ("cosine", "cosine_cyclic", "constant"),
           "time_schedule": ("linear", "linear_original", "cosine"), "type_schedule": ("cosine_multinomial",)}


@dataclass
class CDiffConfig:
    """Hyper-parameters (defaults: the original code's network, spec §5–6, with the quirks fixed)."""

    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 1
    d_ff: int = 64
    dropout: float = 0.1
    n_steps: int = 200  # T, shared by both chains
    time_schedule: str = "linear"
    type_schedule: str = "cosine_multinomial"
    condition_on: str = "noisy"
    horizon_mask: str = "none"
    time_loss: str = "l1"
    clip_x0: float = 3.0  # clip x̂_0 of the time chain to ±clip_x0 standard units when sampling (≤ 0: off)
    boxcox_scale_power: float | None = None  # scale = (1/τ̄)^p; None: the original's default 5
    boxcox_cutoff: float | None = None  # λ is fitted on τ below this; None: τ̄ + σ_τ (the original's default)
    lr: float = 5e-4
    batch_size: int = 64
    train_steps: int = 400
    grad_clip: float = 1.0
    lr_schedule: str = "cosine"
    eval_every: int = 0  # steps between dev evaluations for checkpoint selection (0: keep the last model)
    eval_samples: int = 1

    def validate(self) -> None:
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"cdiff.{key} must be one of {allowed}, got '{getattr(self, key)}'")
        for key in ("n_steps", "batch_size", "train_steps", "eval_samples", "n_layers", "n_heads", "d_model"):
            if getattr(self, key) < 1:
                raise ValueError(f"cdiff.{key} must be >= 1, got {getattr(self, key)}")
        if self.d_model % 4 or self.d_model % self.n_heads:
            raise ValueError(f"cdiff.d_model ({self.d_model}) must be divisible by 4 and by n_heads ({self.n_heads})")
        if not self.lr > 0:
            raise ValueError(f"cdiff.lr must be > 0, got {self.lr}")
        if self.boxcox_scale_power is not None and not np.isfinite(self.boxcox_scale_power):
            raise ValueError(f"cdiff.boxcox_scale_power must be finite or null, got {self.boxcox_scale_power}")
        if self.boxcox_cutoff is not None and not (np.isfinite(self.boxcox_cutoff) and self.boxcox_cutoff > 0):
            raise ValueError(f"cdiff.boxcox_cutoff must be > 0 or null, got {self.boxcox_cutoff}")

    def with_original_quirks(self) -> CDiffConfig:
        """A copy that reproduces the authors' code: clean-conditioned training, the short time schedule,
        a causal horizon mask, the cyclic learning rate and no x̂_0 clipping (none is in the spec)."""
        return replace(self, time_schedule="linear_original", condition_on="clean", horizon_mask="causal",
                       lr_schedule="cosine_cyclic", clip_x0=0.0)

    @classmethod
    def original(cls, **overrides: Any) -> CDiffConfig:
        """The paper's CDiff: the default network and T = 200 with the original code's quirks
        (see :meth:`with_original_quirks`), then `overrides`."""
        return replace(cls().with_original_quirks(), **overrides)


class HorizonDenoiser(nn.Module):
    """Per horizon position j: [TE(x[j]) (d/2) ‖ Emb(e[j]) (d/4) ‖ MLP(TE(step)) (d/4)] + PE(j) → decoder → head.

    The decoder self-attends across the N positions (optionally causally) and cross-attends to the history
    memory. ``rezero`` multiplies the output by a scalar initialised to 0 (the type denoiser: uniform start).
    """

    def __init__(self, n_types: int, cfg: CDiffConfig, out_dim: int, step_scale: float, rezero: bool):
        super().__init__()
        d, q = cfg.d_model, cfg.d_model // 4
        self.d, self.q, self.step_scale = d, q, step_scale
        self.type_emb = nn.Embedding(n_types, q)
        self.step_mlp = nn.Sequential(nn.Linear(q, 4 * q), nn.SiLU(), nn.Linear(4 * q, q))
        layer = nn.TransformerDecoderLayer(d, cfg.n_heads, cfg.d_ff, cfg.dropout, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, cfg.n_layers)
        self.head = nn.Linear(d, out_dim)
        self.gain = nn.Parameter(torch.zeros(1)) if rezero else None
        self.causal = cfg.horizon_mask == "causal"

    def forward(self, x: torch.Tensor, e: torch.Tensor, t: torch.Tensor, memory: torch.Tensor,
                memory_pad: torch.Tensor) -> torch.Tensor:
        B, N = x.shape
        step = self.step_mlp(sinusoid(t.float() * self.step_scale, self.q))
        tokens = torch.cat([sinusoid(x, self.d - 2 * self.q), self.type_emb(e), step[:, None].expand(B, N, self.q)], -1)
        tokens = tokens + sinusoid(torch.arange(N, device=x.device).float(), self.d)
        mask = torch.triu(torch.ones(N, N, dtype=torch.bool, device=x.device), 1) if self.causal else None
        out = self.head(self.decoder(tokens, memory, tgt_mask=mask, memory_key_padding_mask=memory_pad))
        return out * self.gain if self.gain is not None else out


class CDiffNet(nn.Module):
    """History encoder + time denoiser ε_θ^x (→ ε̂) + type denoiser f_θ^e (→ logits of ê_0)."""

    def __init__(self, n_types: int, cfg: CDiffConfig):
        super().__init__()
        self.encoder = HistoryEncoder(n_types, cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.d_ff, cfg.dropout)
        self.time_denoiser = HorizonDenoiser(n_types, cfg, 1, step_scale=1.0, rezero=False)
        self.type_denoiser = HorizonDenoiser(n_types, cfg, n_types, step_scale=4000.0 / cfg.n_steps, rezero=True)


class CDiff(Forecaster):
    """CDiff for a fixed horizon of `n_target` events over `n_types` types (train with :meth:`fit`)."""

    def __init__(self, n_types: int, n_target: int, cfg: CDiffConfig | None = None, device: str = "cpu"):
        self.cfg = cfg or CDiffConfig()
        self.cfg.validate()
        self.n_types, self.n_target, self.device = int(n_types), int(n_target), device
        self.net = CDiffNet(self.n_types, self.cfg).to(device)
        self.times = GaussianDiffusion(make_schedule(self.cfg.time_schedule, self.cfg.n_steps))
        self.types = MultinomialDiffusion(make_schedule(self.cfg.type_schedule, self.cfg.n_steps), self.n_types)
        self.scaler: BoxCoxStandardizer | None = None
        self.time_unit = 1.0

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    # ------------------------------------------------------------------ pieces
    def _memory(self, batch: EventBatch) -> tuple[torch.Tensor, torch.Tensor]:
        dt_norm = torch.where(batch.hist_mask, self.scaler.transform(batch.hist_dt), 0.0)
        return self.net.encoder(dt_norm, batch.hist_times / self.time_unit, batch.hist_types, batch.hist_mask)

    def loss(self, batch: EventBatch, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """L = L_x + L_e (spec §6) on one batch of windows, averaged over windows."""
        memory, pad = self._memory(batch)
        x0, e0 = self.scaler.transform(batch.target_dt), batch.target_types
        B = x0.shape[0]
        t = torch.randint(0, self.cfg.n_steps, (B,), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device)
        x_t, e_t = self.times.q_sample(x0, t, eps), self.types.q_sample(e0, t, generator)
        other_e, other_x = (e0, x0) if self.cfg.condition_on == "clean" else (e_t, x_t)  # quirk 1
        eps_hat = self.net.time_denoiser(x_t, other_e, t, memory, pad).squeeze(-1)
        logits = self.net.type_denoiser(other_x, e_t, t, memory, pad)
        loss_x = self.times.loss(eps_hat, eps, self.cfg.time_loss).mean()
        loss_e = self.types.loss(logits, e0, e_t, t).mean()
        return loss_x + loss_e, {"loss_time": loss_x.item(), "loss_type": loss_e.item()}

    @torch.no_grad()
    def sample(self, batch: EventBatch, n_target: int, n_samples: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """S joint samples by the reverse chains (spec §4 ``sample_chain``) → dt, types of shape (S, B, N)."""
        if n_target != self.n_target:
            raise ValueError(f"this CDiff was trained for N = {self.n_target} events, asked for {n_target}")
        self.net.eval()
        memory, pad = self._memory(batch)
        B, S, N = len(batch), n_samples, self.n_target
        memory, pad = memory.repeat(S, 1, 1), pad.repeat(S, 1)  # sample-major: row s·B + b
        clip = self.cfg.clip_x0 if self.cfg.clip_x0 > 0 else None
        x = self.times.prior_sample((S * B, N), generator, memory.device)
        e = self.types.prior_sample((S * B, N), generator, memory.device)
        for step in reversed(range(self.cfg.n_steps)):
            t = torch.full((S * B,), step, dtype=torch.long, device=memory.device)
            eps_hat = self.net.time_denoiser(x, e, t, memory, pad).squeeze(-1)
            logits = self.net.type_denoiser(x, e, t, memory, pad)  # both from the pre-update (x_t, e_t)
            x, e = self.times.p_sample(x, t, eps_hat, generator, clip), self.types.p_sample(logits, e, t, generator)
        return self.scaler.inverse(x).reshape(S, B, N), e.reshape(S, B, N)

    # ------------------------------------------------------------------ training
    def fit(self, train: Any, seed: int = 0, dev: Any | None = None,
            dev_score: Callable[[np.ndarray, np.ndarray], float] | None = None,
            log: Callable[[dict], None] | None = None, progress: Callable | None = None) -> list[dict]:
        """Train on history/target windows (``train.target_dt`` must have N columns).

        Args:
            seed: seeds the parameters, batches and noise (same seed → same model on CPU).
            dev, dev_score: if both are given and ``cfg.eval_every > 0``, every ``eval_every`` steps the
                point forecast of the dev windows is scored by ``dev_score(dt, types)`` (lower is better;
                e.g. the env's mean OTD) and the best checkpoint is kept.
            log: called with one record per logged step; progress: wraps the step range (tqdm).
        Returns the logged records.
        """
        cfg = self.cfg
        batch = EventBatch.from_windows(train, self.device)
        if batch.target_dt is None or batch.target_dt.shape[1] != self.n_target:
            raise ValueError(f"training windows must have {self.n_target} target events")
        gaps = torch.cat([batch.hist_dt[batch.hist_mask], batch.target_dt.reshape(-1)]).cpu().numpy()
        power = 5.0 if cfg.boxcox_scale_power is None else cfg.boxcox_scale_power
        self.scaler = BoxCoxStandardizer.fit(gaps, power, cfg.boxcox_cutoff)
        self.time_unit = float(max(gaps.mean(), 1e-12))
        torch.manual_seed(seed)
        self.net = CDiffNet(self.n_types, cfg).to(self.device)  # re-initialised from the seed
        g = torch.Generator(device=self.device).manual_seed(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
        per_epoch = math.ceil(len(batch) / cfg.batch_size)
        t_max = {"cosine": cfg.train_steps, "cosine_cyclic": max(1, cfg.train_steps // per_epoch),
                 "constant": None}[cfg.lr_schedule]
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max) if t_max else None
        dev_batch = EventBatch.from_windows(dev, self.device) if dev is not None else None
        checkpoint, records, order = BestCheckpoint(self.net), [], torch.empty(0, dtype=torch.long)
        steps = range(cfg.train_steps)
        for step in (progress(steps) if progress else steps):
            if order.numel() < cfg.batch_size:  # reshuffle once per epoch
                order = torch.randperm(len(batch), generator=g, device=self.device)
            idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
            self.net.train()
            loss, parts = self.loss(batch.index(idx), g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            opt.step()
            if sched is not None:
                sched.step()
            last = step + 1 == cfg.train_steps
            record = None
            if step % 50 == 0 or last:
                record = {"step": step, "loss": loss.item(), **parts, "lr": opt.param_groups[0]["lr"]}
            if dev_score is not None and dev_batch is not None and cfg.eval_every > 0 and (
                    (step + 1) % cfg.eval_every == 0 or last):
                dt, kinds = self.forecast(dev_batch, self.n_target, cfg.eval_samples, g)
                score = float(dev_score(dt, kinds))
                record = {**(record or {"step": step, "loss": loss.item(), **parts}), "dev_score": score}
                checkpoint.update(score)
            if record is not None:
                records.append(record)
                if log is not None:
                    log(record)
        checkpoint.restore()
        self.net.eval()
        return records
