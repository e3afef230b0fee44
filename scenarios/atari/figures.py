"""Figures for ``atari_tokens``: learning curves, and strips of real frames, tokenizer reconstructions and an
imagined rollout decoded to pixels (decoding is for the figure only; the token policy never decodes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from scenarios.atari.buffer import ReplayBuffer
from scenarios.plotting import line_with_ci, save


def learning_curves(curves: pd.DataFrame, path: Path) -> None:
    line_with_ci(curves, "env_steps", "return", "method", path, facet="game", xlabel="real agent steps",
                 ylabel="test return", title="Test return vs real env steps (mean ± 95 % CI over seeds)")


def _pixels(frames: torch.Tensor) -> torch.Tensor:
    """float (N, 3, H, W) → uint8 (N, H, W, 3)."""
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


@torch.no_grad()
def model_artefacts(agent, buffer: ReplayBuffer, horizon: int, n: int = 8) -> dict[str, torch.Tensor]:
    """Real frames and their reconstructions (n), and one imagined rollout of the trained policy, as uint8."""
    from agents.world_models import imagine, to_float

    rng = np.random.default_rng(0)
    real = to_float(torch.as_tensor(buffer.sample_frames(n, rng), device=agent.device))
    tokens = agent.tokenizer.tokenize(real)
    agent.world_model.eval()
    traj = imagine(agent.world_model, agent.policy, tokens[:1], agent.policy.initial_state(1), min(horizon, 12))
    return {"real": _pixels(real), "reconstruction": _pixels(agent.tokenizer.decode(tokens)),
            "imagined": _pixels(agent.tokenizer.decode(traj.tokens[0])),
            "imagined_reward": traj.rewards[0].cpu(), "imagined_done": traj.dones[0].cpu()}


def strips(art: dict[str, torch.Tensor], path: Path, title: str) -> None:
    rows = [("real", art["real"]), ("reconstruction", art["reconstruction"]), ("imagined", art["imagined"])]
    cols = max(len(frames) for _, frames in rows)
    fig, axes = plt.subplots(3, cols, figsize=(1.3 * cols, 4.4), squeeze=False)
    for r, (name, frames) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(frames):
                ax.imshow(frames[c].numpy())
                if name == "imagined" and c > 0:
                    ax.set_title(f"r={art['imagined_reward'][c - 1]:+.0f} d={art['imagined_done'][c - 1]:.0f}",
                                 fontsize=6)
        axes[r][0].text(-0.1, 0.5, name, transform=axes[r][0].transAxes, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{title}: real frames, tokenizer reconstructions, imagined rollout (decoded)", fontsize=9)
    save(fig, path)
