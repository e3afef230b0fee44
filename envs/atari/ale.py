"""The Atari 100k protocol on ale-py, as one Gymnasium env (Kaiser et al. 2020; the IRIS env stack).

Per agent step (IRIS ``src/envs/wrappers.py``, re-implemented on ``ale_py.ALEInterface`` directly):

- no sticky actions (``repeat_action_probability = 0``), the game's minimal action set;
- frame skip 4: the action is repeated on 4 emulator frames, rewards are summed, and the observation is the
  pixel-wise max of the last two raw RGB frames, resized bilinearly to ``size × size`` (64 × 64 RGB);
- no-op reset: after a real reset, n ~ U{1, …, noop_max} single NOOP frames (30 in training, 1 in testing);
- life loss ends the episode in training only (``mode="train"``): the next ``reset()`` continues the same game
  with one NOOP agent step, as baselines' ``EpisodicLifeEnv``; a game over resets the game;
- an episode is truncated after ``max_episode_frames`` emulator frames (108 000 = 30 min at 60 Hz).

Rewards are not clipped (the world model predicts sign(r)). ``info`` carries ``lives``, ``episode_frame_number``
and ``game_over`` (a real game end, not a life loss).

    env = gymnasium.make("recast/Atari100k-v0", game="Pong", mode="train")
"""

from __future__ import annotations

import re

import gymnasium
import numpy as np
from gymnasium import spaces
from PIL import Image

ATARI_100K_GAMES = (
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout", "ChopperCommand",
    "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero", "Jamesbond", "Kangaroo", "Krull",
    "KungFuMaster", "MsPacman", "Pong", "PrivateEye", "Qbert", "RoadRunner", "Seaquest", "UpNDown",
)


def _require_ale():
    try:
        import ale_py
    except ImportError:
        raise ImportError("the Atari worlds need ale-py: pip install -e '.[atari]'") from None
    return ale_py


def rom_id(game: str) -> str:
    """'KungFuMaster' | 'kung_fu_master' → ale-py's ROM id 'kung_fu_master' (ValueError listing valid names)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", game).lower()
    snake = {"up_ndown": "up_n_down", "upndown": "up_n_down"}.get(snake, snake)  # UpNDown
    valid = ale_games()
    if snake not in valid:
        raise ValueError(f"unknown Atari game '{game}'; valid names: {', '.join(valid)}")
    return snake


def ale_games() -> list[str]:
    """Every ROM id bundled with ale-py (108 in 0.12.1; the 26 Atari 100k games among them)."""
    return sorted(_require_ale().roms.get_all_rom_ids())


def resize_rgb(frame: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of an (H, W, 3) uint8 frame to (size, size, 3) uint8."""
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR))


class Atari100kEnv(gymnasium.Env):
    """One Atari game under the Atari 100k protocol; observations (size, size, 3) uint8 RGB."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, game: str = "Pong", mode: str = "train", noop_max: int | None = None, frame_skip: int = 4,
                 size: int = 64, max_episode_frames: int = 108_000, render_mode: str | None = None):
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if frame_skip < 1 or size < 1 or max_episode_frames < 1:
            raise ValueError("frame_skip, size and max_episode_frames must be >= 1")
        ale_py = _require_ale()
        self.game, self.mode, self.size, self.frame_skip = rom_id(game), mode, size, frame_skip
        self.noop_max = (30 if mode == "train" else 1) if noop_max is None else noop_max
        if self.noop_max < 0:
            raise ValueError(f"noop_max must be >= 0, got {self.noop_max}")
        self.max_episode_frames, self.render_mode = max_episode_frames, render_mode
        self.ale = ale_py.ALEInterface()
        self.ale.setLoggerMode(ale_py.LoggerMode.Error)
        self.ale.setFloat("repeat_action_probability", 0.0)  # no sticky actions
        self.ale.setInt("frame_skip", 1)  # we skip ourselves, with the max-pool
        self.ale.setInt("max_num_frames_per_episode", 0)  # the truncation is ours (max_episode_frames)
        self.ale.loadROM(ale_py.roms.get_rom_path(self.game))
        self.actions = list(self.ale.getMinimalActionSet())
        self.action_space = spaces.Discrete(len(self.actions))
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self._raw = np.zeros((2, *self.ale.getScreenDims(), 3), np.uint8)  # the last two raw frames
        self._obs = np.zeros((size, size, 3), np.uint8)
        self._lives, self._game_over, self._life_lost = 0, True, False

    def _frame(self, slot: int) -> None:
        self.ale.getScreenRGB(self._raw[slot])

    def _info(self) -> dict:
        return {"lives": self._lives, "episode_frame_number": int(self.ale.getEpisodeFrameNumber()),
                "game_over": bool(self._game_over)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if not self._life_lost or seed is not None:
            self.ale.reset_game()
            for _ in range(int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max else 0):
                self.ale.act(self.actions[0])
                if self.ale.game_over():
                    self.ale.reset_game()
            self._frame(0)
            self._raw[1] = self._raw[0]
            self._obs = resize_rgb(self._raw[0], self.size)
        else:  # a life was lost in training: continue the same game with one NOOP agent step
            self._skip(0)
        self._lives, self._game_over, self._life_lost = self.ale.lives(), bool(self.ale.game_over()), False
        return self._obs.copy(), self._info()

    def _skip(self, action: int) -> float:
        """Repeat the action on `frame_skip` frames; obs = max of the last two raw frames (summed reward)."""
        reward = 0.0
        for i in range(self.frame_skip):
            reward += self.ale.act(self.actions[action])
            if i >= self.frame_skip - 2:
                self._frame(i - (self.frame_skip - 2))
            if self.ale.game_over():
                if i < self.frame_skip - 1:  # ended early: the last frame is the max-pool's only frame
                    self._frame(0)
                    self._raw[1] = self._raw[0]
                break
        if self.frame_skip == 1:
            self._raw[0] = self._raw[1]
        self._obs = resize_rgb(np.maximum(self._raw[0], self._raw[1]), self.size)
        return reward

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        reward = self._skip(int(action))
        lives = self.ale.lives()
        self._game_over = bool(self.ale.game_over())
        life_lost = 0 < lives < self._lives
        self._lives = lives
        terminated = self._game_over or (self.mode == "train" and life_lost)
        truncated = not terminated and self.ale.getEpisodeFrameNumber() >= self.max_episode_frames
        self._life_lost = terminated and not self._game_over  # the next reset continues this game
        return self._obs.copy(), float(reward), terminated, truncated, self._info()

    def render(self):
        return self._obs.copy() if self.render_mode == "rgb_array" else None
