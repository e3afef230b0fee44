"""Training DART and its IRIS-style baseline: collect real steps, fit tokenizer and world model, learn in imagination.

The loop is IRIS's ``trainer.yaml`` schedule, scaled (spec §3): per epoch, collect ``steps_per_epoch`` real steps
with the current policy (ε-greedy ε = 0.01, temperature 1), then — once past each part's start epoch —
``tokenizer.steps`` VQ-VAE updates, ``world_model.steps`` GPT updates on segments tokenised by the current
tokenizer, and ``policy.steps`` actor-critic updates in imagination (burn-in on real frames, H imagined steps,
λ-returns). Both policies see tokens: DART attends over them, the IRIS baseline decodes them to pixels first
(also when acting in the real env, as IRIS does with ``use_original_obs = False``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from agents.world_models import (
    FramePolicy,
    GPTWorldModel,
    TokenizerConfig,
    TokenPolicy,
    VQTokenizer,
    WorldModelConfig,
    actor_critic_loss,
    burn_in,
    imagine,
    to_float,
)
from agents.world_models.imagination import reset_state
from scenarios.atari.buffer import ReplayBuffer
from scenarios.validation import param

T = TypeVar("T")
MODEL_BASED = ("dart", "dart_no_pos", "dart_mask50", "iris")


@dataclass
class TokenizerTrain:
    channels: int = param(16, ge=1, le=1024)
    n_down: int = param(4, ge=1, le=6)  # 64 / 2^n_down tokens per side: 4 → K = 16
    codebook_size: int = param(128, ge=2, le=65_536)
    embed_dim: int = param(32, ge=1, le=4096)
    lr: float = param(1e-3, gt=0, le=1)  # IRIS 1e-4 (paper preset); larger for the short CPU budget [design]
    batch: int = param(32, ge=1, le=4096)  # IRIS 256
    steps: int = param(20, ge=0, le=100_000)  # updates per epoch (IRIS 200)
    start_epoch: int = param(1, ge=1, le=100_000)  # IRIS: after epoch 5


@dataclass
class WorldModelTrain:
    width: int = param(64, ge=8, le=4096)
    depth: int = param(2, ge=1, le=64)
    heads: int = param(4, ge=1, le=64)
    dropout: float = param(0.1, ge=0, lt=1)
    lr: float = param(1e-3, gt=0, le=1)
    weight_decay: float = param(0.01, ge=0, le=1)
    batch: int = param(16, ge=1, le=4096)
    seq_len: int = param(8, ge=2, le=1000)  # steps per training segment (IRIS 20)
    steps: int = param(20, ge=0, le=100_000)  # updates per epoch (IRIS 200)
    start_epoch: int = param(2, ge=1, le=100_000)  # IRIS: after epoch 25


@dataclass
class PolicyTrain:
    width: int = param(64, ge=8, le=4096)  # token policy [design]
    depth: int = param(2, ge=1, le=64)
    heads: int = param(4, ge=1, le=64)
    cnn_channels: list[int] = param([16, 16, 32, 32], ge=1, le=1024, nonempty=True)  # IRIS 32-32-64-64
    lstm_hidden: int = param(128, ge=1, le=8192)  # IRIS 512
    lr: float = param(1e-3, gt=0, le=1)
    batch: int = param(16, ge=1, le=4096)  # imagined trajectories per update (IRIS 64)
    burn_in: int = param(4, ge=0, le=1000)  # real steps before imagination starts (IRIS 20)
    horizon: int = param(10, ge=1, le=1000)  # imagined steps H (IRIS 20)
    gamma: float = param(0.99, gt=0, le=1)  # IRIS 0.995
    lam: float = param(0.95, ge=0, le=1)
    entropy_weight: float = param(0.001, ge=0, le=10)
    epsilon: float = param(0.01, ge=0, le=1)  # random actions while collecting
    steps: int = param(10, ge=0, le=100_000)  # updates per epoch (IRIS 200)
    start_epoch: int = param(3, ge=1, le=100_000)  # IRIS: after epoch 50


def build_parts(method: str, n_actions: int, tok: TokenizerTrain, wm: WorldModelTrain, pol: PolicyTrain,
                device: str) -> tuple[VQTokenizer, GPTWorldModel, torch.nn.Module]:
    tokenizer = VQTokenizer(TokenizerConfig(channels=tok.channels, n_down=tok.n_down, codebook_size=tok.codebook_size,
                                            embed_dim=tok.embed_dim)).to(device)
    k = tokenizer.tokens_per_frame
    world_model = GPTWorldModel(WorldModelConfig(
        vocab_size=tok.codebook_size, n_actions=n_actions, tokens_per_frame=k, width=wm.width, depth=wm.depth,
        heads=wm.heads, max_blocks=max(wm.seq_len, pol.horizon + 1), dropout=wm.dropout)).to(device)
    if method == "iris":
        policy = FramePolicy(tokenizer, n_actions, tuple(pol.cnn_channels), pol.lstm_hidden)
    else:
        policy = TokenPolicy(tok.codebook_size, k, n_actions, pol.width, pol.depth, pol.heads,
                             positional=method != "dart_no_pos", mask_fraction=0.5 if method == "dart_mask50" else 0)
    return tokenizer, world_model, policy.to(device)


def policy_parameters(policy: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for name, p in policy.named_parameters() if not name.startswith("tokenizer.")]


class Actor:
    """Acts in a batch of real envs with tokenizer + policy, carrying each env's recurrent state."""

    def __init__(self, tokenizer: VQTokenizer, policy: torch.nn.Module, n: int, device: str):
        self.tokenizer, self.policy, self.device = tokenizer, policy, device
        self.state = policy.initial_state(n)

    @torch.no_grad()
    def act(self, frames: np.ndarray, new_episode: np.ndarray, rng: np.random.Generator, epsilon: float,
            temperature: float) -> np.ndarray:
        x = to_float(torch.as_tensor(frames, device=self.device))
        self.state = reset_state(self.state, self.policy.initial_state(len(frames)),
                                 torch.as_tensor(new_episode, device=self.device))
        logits, _, self.state = self.policy(self.tokenizer.tokenize(x), self.state)
        probs = torch.softmax(logits / temperature, -1).cpu().numpy().astype(np.float64)
        greedy = (probs.cumsum(1) > rng.random((len(probs), 1))).argmax(1)
        explore = rng.random(len(probs)) < epsilon
        return np.where(explore, rng.integers(0, probs.shape[1], len(probs)), greedy)


class Collector:
    """Steps `envs` (persistent across epochs) and writes every transition to the buffer."""

    def __init__(self, envs: list, seed: int):
        self.envs = envs
        self.obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
        self.new_episode = np.ones(len(envs), bool)
        self.episode_ids = np.arange(len(envs))
        self.next_id = len(envs)

    def collect(self, buffer: ReplayBuffer, choose: Callable[[np.ndarray, np.ndarray], np.ndarray], steps: int
                ) -> None:
        for _ in range(-(-steps // len(self.envs))):
            actions = choose(self.obs, self.new_episode)
            results = [env.step(int(a)) for env, a in zip(self.envs, actions)]
            rewards = np.array([r[1] for r in results], np.float32)
            terminated = np.array([r[2] for r in results])
            ended = terminated | np.array([r[3] for r in results])
            buffer.add(self.obs, actions, rewards, terminated, self.episode_ids)
            self.obs = np.stack([env.reset()[0] if end else r[0] for env, r, end in zip(self.envs, results, ended)])
            self.new_episode = ended
            self.episode_ids = np.where(ended, self.next_id + np.arange(len(self.envs)), self.episode_ids)
            self.next_id += len(self.envs)


def evaluate(envs: list, choose: Callable[[np.ndarray, np.ndarray], np.ndarray], seed: int, max_steps: int
             ) -> list[float]:
    """One episode per env (in parallel), at most `max_steps` agent steps each; the returns."""
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns, running = np.zeros(len(envs)), np.ones(len(envs), bool)
    first = np.ones(len(envs), bool)
    for _ in range(max_steps):
        actions = choose(obs, first)
        first[:] = False
        for i in np.flatnonzero(running):
            o, r, term, trunc, _ = envs[i].step(int(actions[i]))
            obs[i], returns[i] = o, returns[i] + r
            running[i] = not (term or trunc)
        if not running.any():
            break
    return returns.tolist()


class ModelBasedAgent:
    """Tokenizer + world model + policy with their optimisers and the three update rules."""

    def __init__(self, method: str, n_actions: int, tok: TokenizerTrain, wm: WorldModelTrain, pol: PolicyTrain,
                 device: str, seed: int):
        self.tok_cfg, self.wm_cfg, self.pol_cfg, self.device = tok, wm, pol, device
        torch.manual_seed(seed)
        self.tokenizer, self.world_model, self.policy = build_parts(method, n_actions, tok, wm, pol, device)
        self.tok_opt = torch.optim.Adam(self.tokenizer.parameters(), lr=tok.lr)
        self.wm_opt = torch.optim.AdamW(self.world_model.parameters(), lr=wm.lr, weight_decay=wm.weight_decay)
        self.pol_opt = torch.optim.Adam(policy_parameters(self.policy), lr=pol.lr)
        self.rng = np.random.default_rng(seed)

    def modules(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "world_model": self.world_model, "policy": self.policy,
                "tok_opt": self.tok_opt, "wm_opt": self.wm_opt, "pol_opt": self.pol_opt}

    def _frames(self, frames: np.ndarray) -> torch.Tensor:
        return to_float(torch.as_tensor(frames, device=self.device))

    def train_tokenizer(self, buffer: ReplayBuffer) -> dict[str, float]:
        parts: dict[str, float] = {}
        self.tokenizer.train()
        for _ in range(self.tok_cfg.steps):
            loss, parts, _ = self.tokenizer.loss(self._frames(buffer.sample_frames(self.tok_cfg.batch, self.rng)))
            self.tok_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.tokenizer.parameters(), 10.0)
            self.tok_opt.step()
        return parts

    def tokenize_buffer(self, buffer: ReplayBuffer, chunk: int = 512) -> None:
        """Tokens of every buffered frame under the current tokenizer (B, K), for this epoch's world-model and
        actor-critic updates: the tokenizer does not change during them, so this equals IRIS's on-the-fly encoding.
        """
        frames = buffer.arrays()["frames"]
        self.tokenizer.eval()
        with torch.no_grad():
            self.tokens = torch.cat([self.tokenizer.tokenize(self._frames(frames[i:i + chunk]))
                                     for i in range(0, len(frames), chunk)])

    def _tokenize(self, index: np.ndarray) -> torch.Tensor:
        return self.tokens[torch.as_tensor(index, device=self.tokens.device)]

    def train_world_model(self, buffer: ReplayBuffer) -> dict[str, float]:
        parts: dict[str, float] = {}
        self.world_model.train()
        for _ in range(self.wm_cfg.steps):
            seg = buffer.sample_segments(self.wm_cfg.batch, self.wm_cfg.seq_len, self.rng, anchor="start")
            t = {k: torch.as_tensor(v, device=self.device) for k, v in seg.items() if k != "index"}
            loss, parts = self.world_model.loss(self._tokenize(seg["index"]), t["actions"], t["rewards"],
                                                t["dones"], t["valid"])
            self.wm_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.world_model.parameters(), 10.0)
            self.wm_opt.step()
        return parts

    def train_policy(self, buffer: ReplayBuffer) -> dict[str, float]:
        p, parts = self.pol_cfg, {}
        self.world_model.eval()
        for _ in range(p.steps):
            seg = buffer.sample_segments(p.batch, p.burn_in + 1, self.rng, anchor="end")
            tokens = self._tokenize(seg["index"])
            starts = torch.as_tensor(seg["starts"], device=self.device)
            state = burn_in(self.policy, tokens[:, :-1], starts[:, :-1])
            state = reset_state(state, self.policy.initial_state(p.batch), starts[:, -1])
            traj = imagine(self.world_model, self.policy, tokens[:, -1], state, p.horizon)
            loss, parts = actor_critic_loss(traj, p.gamma, p.lam, p.entropy_weight)
            self.pol_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy_parameters(self.policy), 10.0)
            self.pol_opt.step()
        return parts


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start
