"""MinAtar (Young & Tian 2019) as a Gymnasium env with the Atari 100k interface: 64 × 64 RGB pixels.

The real ``minatar`` package runs the game on a 10 × 10 × C boolean grid; each channel gets a fixed colour
(a channel drawn later covers an earlier one) and the grid is upsampled nearest-neighbour to ``size × size``.
No sticky actions by default (``sticky_action_prob = 0``, mirroring the Atari 100k protocol); the minimal
action set; episodes end when the game does (no time limit unless ``max_episode_steps`` is given at
``gymnasium.make``). ``info["state"]`` is the boolean grid.

    env = gymnasium.make("recast/MinAtar-v0", game="breakout")
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

MINATAR_GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")

# one colour per channel (up to 10 channels: seaquest), distinct on a black background
PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 190]], np.uint8)


def _require_minatar():
    try:
        import minatar
    except ImportError:
        raise ImportError("the MinAtar worlds need minatar: pip install -e '.[atari]'") from None
    return minatar


def check_minatar_game(game: str) -> str:
    if game not in MINATAR_GAMES:
        raise ValueError(f"unknown MinAtar game '{game}'; valid names: {', '.join(MINATAR_GAMES)}")
    return game


def grid_to_rgb(state: np.ndarray, size: int) -> np.ndarray:
    """(10, 10, C) bool → (size, size, 3) uint8: the last active channel's colour per cell, black if none."""
    n = state.shape[-1]
    top = np.where(state.any(-1), n - 1 - np.argmax(state[..., ::-1], axis=-1), -1)  # last active channel
    cells = np.where(top[..., None] >= 0, PALETTE[np.maximum(top, 0)], 0).astype(np.uint8)
    rows = np.arange(size) * state.shape[0] // size
    cols = np.arange(size) * state.shape[1] // size
    return cells[rows[:, None], cols[None, :]]


class MinAtarEnv(gymnasium.Env):
    """One MinAtar game; observations (size, size, 3) uint8 RGB, actions the game's minimal action set."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, game: str = "breakout", size: int = 64, sticky_action_prob: float = 0.0,
                 difficulty_ramping: bool = True, render_mode: str | None = None):
        minatar = _require_minatar()
        if size < 10 or not 0.0 <= sticky_action_prob <= 1.0:
            raise ValueError("size must be >= 10 and sticky_action_prob in [0, 1]")
        self.game, self.size, self.render_mode = check_minatar_game(game), size, render_mode
        self.minatar = minatar.Environment(game, sticky_action_prob=sticky_action_prob,
                                           difficulty_ramping=difficulty_ramping)
        self.actions = list(self.minatar.minimal_action_set())
        self.action_space = spaces.Discrete(len(self.actions))
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)

    def _obs(self) -> tuple[np.ndarray, dict]:
        state = self.minatar.state()
        return grid_to_rgb(state, self.size), {"state": state.copy()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.minatar.seed(int(self.np_random.integers(2**31)))  # MinAtar's own RandomState, from our rng
        self.minatar.reset()
        return self._obs()

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        reward, terminated = self.minatar.act(self.actions[int(action)])
        obs, info = self._obs()
        return obs, float(reward), bool(terminated), False, info

    def render(self):
        return self._obs()[0] if self.render_mode == "rgb_array" else None
