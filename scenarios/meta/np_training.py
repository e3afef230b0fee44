"""Training and evaluation of neural processes on GP and digit-completion tasks (reference ``gp.py``/``emnist.py``).

Training: Adam with a cosine decay over ``steps`` (reference: 100k steps, batch 16, lr 5e-4); each step draws a
fresh batch from the task sampler. Evaluation: ``tar_ll`` averaged over a fixed set of batches drawn from one
seed (the same for every model and replicate, so comparisons are paired). CMANP is evaluated with streamed
(blocked) conditioning, as the reference does outside ``train()`` mode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from agents.neural_processes import MODELS, NeuralProcess
from envs.tasks.gp_tasks import NPBatch

Sampler = Callable[[np.random.Generator, int], NPBatch]


def to_tensors(batch: NPBatch, device: str) -> list[torch.Tensor]:
    return [torch.as_tensor(a, device=device) for a in (batch.xc, batch.yc, batch.xt, batch.yt)]


def build_model(name: str, dim_x: int, dim_y: int, m, bound_std: bool = False) -> NeuralProcess:
    """A model from the scenario's ``ModelConfig`` ``m`` (CNP/ANP use ``m.baseline_width`` hidden units)."""
    if name in ("cmanp", "cmanp_and"):
        extra = {"and_block_size": m.and_block_size} if name == "cmanp_and" else {}
        return MODELS[name](dim_x=dim_x, dim_y=dim_y, dim=m.dim, emb_depth=m.emb_depth, dim_ff=m.dim_ff,
                            heads=m.heads, num_layers=m.num_layers, num_latents=m.num_latents,
                            num_latents_per_layer=m.num_latents_per_layer, block_size=m.block_size,
                            bound_std=bound_std, **extra)
    if name == "tnpd":
        return MODELS[name](dim_x=dim_x, dim_y=dim_y, dim=m.dim, emb_depth=m.emb_depth, dim_ff=m.dim_ff,
                            heads=m.heads, num_layers=m.num_layers, bound_std=bound_std)
    return MODELS[name](dim_x=dim_x, dim_y=dim_y, dim=m.baseline_width)


def train(model: NeuralProcess, sample: Sampler, steps: int, batch_size: int, lr: float, rng: np.random.Generator,
          device: str, log: Callable[[int, float], None] | None = None, log_every: int = 100) -> float:
    """Adam + cosine decay; returns the wall time in seconds."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = model.loss(*to_tensors(sample(rng, batch_size), device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % log_every == 0 or step == steps):
            log(step, loss.item())
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model: NeuralProcess, batches: list[NPBatch], device: str) -> float:
    """Mean ``tar_ll`` over the evaluation batches (mean of per-task values)."""
    model.eval()
    return float(np.mean([model.target_log_likelihood(*to_tensors(b, device)).mean().item() for b in batches]))


def context_gaussian_ll(batches: list[NPBatch]) -> float:
    """Chance level: predict every target with N(mean(y_c), var(y_c) + 10⁻³) of its own task's context."""
    out = []
    for b in batches:
        mean, var = b.yc.mean(1, keepdims=True), b.yc.var(1, keepdims=True) + 1e-3
        out.append(np.mean(-0.5 * (np.log(2 * math.pi * var) + (b.yt - mean) ** 2 / var)))
    return float(np.mean(out))


@torch.no_grad()
def streaming_error(model: NeuralProcess, batches: list[NPBatch], block_sizes: list[int], device: str) -> dict:
    """Max |difference| of the predictive (μ, σ) between one-block conditioning and (a) streamed conditioning in
    blocks of each size over a shuffled context, (b) ``update`` with the second half of the context."""
    model.eval()
    worst = {"streamed": 0.0, "update": 0.0}
    for i, b in enumerate(batches):
        xc, yc, xt, _ = to_tensors(b, device)
        full = model.predict(model.condition(xc, yc, block_size=xc.shape[1]), xt)
        perm = torch.randperm(xc.shape[1], generator=torch.Generator().manual_seed(i)).to(device)
        half = xc.shape[1] // 2
        preds = {"update": model.predict(model.update(model.condition(xc[:, :half], yc[:, :half]), xc[:, half:],
                                                      yc[:, half:]), xt)}
        for size in block_sizes:
            streamed = model.predict(model.condition(xc[:, perm], yc[:, perm], block_size=size), xt)
            worst["streamed"] = max(worst["streamed"], _gap(streamed, full))
        worst["update"] = max(worst["update"], _gap(preds["update"], full))
    return worst


def _gap(a: torch.distributions.Normal, b: torch.distributions.Normal) -> float:
    return max(float((a.mean - b.mean).abs().max()), float((a.stddev - b.stddev).abs().max()))


@torch.no_grad()
def env_episode_lls(model: NeuralProcess, episodes: int, block_size: int, seed: int, device: str) -> list[dict]:
    """Act in ``recast/NPRegression-v0`` (GP RBF): each step streams the newly revealed block into the model
    (``update``: O(block) for CMANP, a longer history for the baselines) and predicts the targets.
    Rows: (episode, context points seen, reward = mean target log-likelihood)."""
    import gymnasium

    model.eval()
    env = gymnasium.make("recast/NPRegression-v0", task="gp", block_size=block_size)
    rows = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        n_tar, seen, done = info["num_target"], 0, False
        context = model.condition(torch.zeros(1, 0, 1, device=device), torch.zeros(1, 0, 1, device=device))
        xt = torch.as_tensor(obs["target_x"][None, :n_tar], device=device)
        while not done:
            n = int(obs["context_mask"].sum())
            new_x = torch.as_tensor(obs["context_x"][None, seen:n], device=device)
            context = model.update(context, new_x, torch.as_tensor(obs["context_y"][None, seen:n], device=device))
            pred = model.predict(context, xt)
            action = np.zeros(env.action_space.shape, np.float32)
            action[:n_tar, 0] = pred.mean[0, :, 0].cpu().numpy()
            action[:n_tar, 1] = (2 * pred.stddev[0, :, 0].log()).cpu().numpy()
            obs, reward, done, _, _ = env.step(action)
            rows.append({"episode": episode, "context points": n, "log-likelihood": reward})
            seen = n
    env.close()
    return rows
