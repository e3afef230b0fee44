"""IFTPP: the intensity-free log-normal-mixture TPP (Shchur, Biloš & Günnemann, ICLR 2020), autoregressive.

Spec tpp.md §9 (the standard formulation; not checked line by line against the ifl-tpp code):

* history: a GRU over per-event inputs [standardised log τ_i ‖ Emb(k_i)] → contexts c_i (c_0 is learned);
* inter-event density given c: p(τ | c) = Σ_m w_m LogNormal(τ; μ_m, s_m), i.e. the standardised
  y = (log τ − m)/s is a Gaussian mixture, w = softmax(V_w c), μ = V_μ c, s = exp(V_s c) (m, s: train mean
  and std of log τ — not of τ, EasyTPP issue #84);
* marks: p(k | c) = softmax(W c), independent of τ given c;
* NLL = −Σ_i [log p(τ_i | c_{i−1}) + log p(k_i | c_{i−1})]; sampling is exact (z ~ Cat(w), y ~ N(μ_z, s_z²));
* N-step forecast: sample event by event, feeding each sample back, S times in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.forecasters.common import BestCheckpoint, EventBatch, Forecaster, pad_sequences

LOG_EPS = 1e-8  # τ floor inside the log (zero gaps are allowed in data)


@dataclass
class IntensityFreeConfig:
    hidden: int = 32
    type_dim: int = 16
    n_components: int = 16
    lr: float = 5e-3
    batch_size: int = 64
    train_steps: int = 300
    grad_clip: float = 1.0
    eval_every: int = 0  # steps between dev-NLL checks for checkpoint selection (0: keep the last model)

    def validate(self) -> None:
        for key in ("hidden", "type_dim", "n_components", "batch_size", "train_steps"):
            if getattr(self, key) < 1:
                raise ValueError(f"iftpp.{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"iftpp.lr must be > 0, got {self.lr}")


class IntensityFreeNet(nn.Module):
    def __init__(self, n_types: int, cfg: IntensityFreeConfig):
        super().__init__()
        self.M, self.K = cfg.n_components, n_types
        self.type_emb = nn.Embedding(n_types, cfg.type_dim)
        self.rnn = nn.GRU(1 + cfg.type_dim, cfg.hidden, batch_first=True)
        self.c0 = nn.Parameter(torch.zeros(cfg.hidden))
        self.head = nn.Linear(cfg.hidden, 3 * cfg.n_components + n_types)

    def inputs(self, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return torch.cat([y.unsqueeze(-1), self.type_emb(k)], dim=-1)

    def heads(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Context (…, H) → mixture log-weights, means, log-scales (…, M) and mark logits (…, K)."""
        out = self.head(c)
        w, mu, log_s, marks = out.split([self.M, self.M, self.M, self.K], dim=-1)
        return F.log_softmax(w, -1), mu, log_s.clamp(-5.0, 3.0), marks


class IntensityFree(Forecaster):
    """The IFTPP baseline over `n_types` types; one model serves every horizon N."""

    def __init__(self, n_types: int, cfg: IntensityFreeConfig | None = None, device: str = "cpu"):
        self.cfg = cfg or IntensityFreeConfig()
        self.cfg.validate()
        self.n_types, self.device = int(n_types), device
        self.net = IntensityFreeNet(self.n_types, self.cfg).to(device)
        self.log_mean, self.log_std, self.max_dt = 0.0, 1.0, math.inf

    def _y(self, dt: torch.Tensor) -> torch.Tensor:
        return (torch.log(dt.clamp_min(0) + LOG_EPS) - self.log_mean) / self.log_std

    def _contexts(self, batch: EventBatch) -> torch.Tensor:
        """c_0..c_L for each sequence: c_i summarises events 1..i (B, L+1, H)."""
        x = self.net.inputs(self._y(batch.hist_dt), batch.hist_types.clamp(0, self.n_types - 1))
        h, _ = self.net.rnn(x)
        c0 = self.net.c0.expand(h.shape[0], 1, -1)
        return torch.cat([c0, h], dim=1)

    def nll(self, batch: EventBatch) -> torch.Tensor:
        """Mean negative log-likelihood per event of whole sequences (times + marks, nats)."""
        c = self._contexts(batch)[:, :-1]  # c_{i−1} predicts event i
        log_w, mu, log_s, marks = self.net.heads(c)
        y = self._y(batch.hist_dt).unsqueeze(-1)
        comp = -0.5 * ((y - mu) / log_s.exp()) ** 2 - log_s - 0.5 * math.log(2 * math.pi)
        log_py = torch.logsumexp(log_w + comp, dim=-1)
        log_tau = log_py - math.log(self.log_std) - torch.log(batch.hist_dt.clamp_min(0) + LOG_EPS)
        log_k = F.log_softmax(marks, -1).gather(-1, batch.hist_types.clamp(0, self.n_types - 1).unsqueeze(-1))
        ll = (log_tau + log_k.squeeze(-1)) * batch.hist_mask
        return -ll.sum() / batch.hist_mask.sum()

    def fit(self, sequences: Sequence[Any], seed: int = 0, dev: Sequence[Any] | None = None,
            log: Callable[[dict], None] | None = None, progress: Callable | None = None) -> list[dict]:
        """Maximum likelihood on whole sequences (objects with ``times`` and ``types``) by Adam."""
        cfg = self.cfg
        data = pad_sequences(sequences, self.device)
        logs = torch.log(data.hist_dt[data.hist_mask] + LOG_EPS)
        self.log_mean, self.log_std = float(logs.mean()), float(logs.std().clamp_min(1e-6))
        self.max_dt = float(data.hist_dt[data.hist_mask].max())
        torch.manual_seed(seed)
        self.net = IntensityFreeNet(self.n_types, cfg).to(self.device)
        g = torch.Generator(device=self.device).manual_seed(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        dev_data = pad_sequences(dev, self.device) if dev else None
        checkpoint, records, order = BestCheckpoint(self.net), [], torch.empty(0, dtype=torch.long)
        steps = range(cfg.train_steps)
        for step in (progress(steps) if progress else steps):
            if order.numel() < cfg.batch_size:
                order = torch.randperm(len(data), generator=g, device=self.device)
            idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
            self.net.train()
            loss = self.nll(data.index(idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            opt.step()
            last = step + 1 == cfg.train_steps
            record = {"step": step, "nll": loss.item()} if step % 50 == 0 or last else None
            if dev_data is not None and cfg.eval_every > 0 and ((step + 1) % cfg.eval_every == 0 or last):
                with torch.no_grad():
                    score = self.nll(dev_data).item()
                record = {**(record or {"step": step, "nll": loss.item()}), "dev_nll": score}
                checkpoint.update(score)
            if record is not None:
                records.append(record)
                if log is not None:
                    log(record)
        checkpoint.restore()
        self.net.eval()
        return records

    @torch.no_grad()
    def sample(self, batch: EventBatch, n_target: int, n_samples: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """S autoregressive rollouts of `n_target` events → dt, types (S, B, N)."""
        self.net.eval()
        B, S, N = len(batch), n_samples, n_target
        x = self.net.inputs(self._y(batch.hist_dt), batch.hist_types.clamp(0, self.n_types - 1))
        h_all, _ = self.net.rnn(x)
        h = h_all.gather(1, (batch.lengths - 1)[:, None, None].expand(-1, 1, h_all.shape[-1])).squeeze(1)
        h = h.repeat(S, 1)  # sample-major: row s·B + b
        dts, kinds = [], []
        for _ in range(N):
            log_w, mu, log_s, marks = self.net.heads(h)
            u = torch.rand(log_w.shape, generator=generator, device=h.device)
            z = (log_w - torch.log(-torch.log(u.clamp_min(1e-30)))).argmax(-1, keepdim=True)  # Gumbel-max
            eps = torch.randn(z.shape, generator=generator, device=h.device)
            y = (mu.gather(-1, z) + log_s.gather(-1, z).exp() * eps).squeeze(-1)
            dt = (torch.exp(y * self.log_std + self.log_mean) - LOG_EPS).clamp(0.0, 100.0 * self.max_dt)
            k = torch.multinomial(F.softmax(marks, -1), 1, generator=generator).squeeze(-1)
            _, h_new = self.net.rnn(self.net.inputs(self._y(dt), k).unsqueeze(1), h.unsqueeze(0).contiguous())
            h = h_new.squeeze(0)
            dts.append(dt)
            kinds.append(k)
        return torch.stack(dts, -1).reshape(S, B, N), torch.stack(kinds, -1).reshape(S, B, N)


def lognormal_mixture_density(tau: np.ndarray, log_w: np.ndarray, mu: np.ndarray, log_s: np.ndarray,
                              log_mean: float = 0.0, log_std: float = 1.0) -> np.ndarray:
    """p(τ) of the mixture (for tests): Σ_m w_m N(y; μ_m, s_m²) / (log_std · τ), y = (log τ − log_mean)/log_std."""
    y = (np.log(tau)[:, None] - log_mean) / log_std
    s = np.exp(log_s)
    comp = np.exp(log_w) * np.exp(-0.5 * ((y - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    return comp.sum(-1) / (log_std * tau)
