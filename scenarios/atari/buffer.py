"""The replay buffer of real transitions and the vectorised real-env collection loop (IRIS's collector)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class ReplayBuffer:
    """Real steps in arrival order per env stream: frame x_t, action a_t, reward r_t, terminal d_t, episode id.

    ``starts[i]`` is True where step i begins an episode (its previous step, if any, is another episode's).
    """

    frames: list[np.ndarray] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    dones: list[bool] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)
    _arrays: dict | None = None

    def add(self, frames: np.ndarray, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray,
            episodes: np.ndarray) -> None:
        self.frames += list(frames)
        self.actions += actions.tolist()
        self.rewards += rewards.tolist()
        self.dones += dones.tolist()
        self.episodes += episodes.tolist()
        self._arrays = None

    def __len__(self) -> int:
        return len(self.actions)

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {"frames": np.stack(self.frames), "actions": np.array(self.actions, np.int64),
                            "rewards": np.array(self.rewards, np.float32), "dones": np.array(self.dones, bool),
                            "episodes": np.array(self.episodes, np.int64)}
        return self._arrays

    def sample_frames(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.arrays()["frames"][rng.integers(0, len(self), n)]

    def sample_segments(self, n: int, length: int, rng: np.random.Generator, anchor: str = "start"
                        ) -> dict[str, np.ndarray]:
        """n segments of `length` consecutive steps of one episode each, from a uniformly drawn step.

        ``anchor="start"``: the drawn step begins the segment and steps past its episode's end are padding
        (right padding: the world model's causal attention never sees them). ``anchor="end"``: the drawn step
        ends the segment and steps before its episode are padding (for burn-in). ``index`` gives the buffer rows
        (clipped into range), ``valid`` marks real steps; ``starts`` marks padding and each segment's first real
        step (where a recurrent state resets).
        """
        a = self.arrays()
        anchors = rng.integers(0, len(self), n)
        offsets = np.arange(length) if anchor == "start" else np.arange(length) - (length - 1)
        idx = anchors[:, None] + offsets[None, :]
        clipped = np.clip(idx, 0, len(self) - 1)
        valid = (idx >= 0) & (idx < len(self)) & (a["episodes"][clipped] == a["episodes"][anchors][:, None])
        first = valid & ~np.concatenate([np.zeros((n, 1), bool), valid[:, :-1]], axis=1)
        return {"index": clipped, "actions": a["actions"][clipped], "rewards": a["rewards"][clipped],
                "dones": a["dones"][clipped] & valid, "valid": valid, "starts": first | ~valid}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in self.arrays().items()} if len(self) else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            self.add(state["frames"].numpy(), state["actions"].numpy(), state["rewards"].numpy(),
                     state["dones"].numpy(), state["episodes"].numpy())
