"""``atari_tokens``: DART (token-attending policy learning in imagination) vs IRIS-style decode-then-CNN+LSTM vs
SB3 PPO / DQN at equal real env steps, on MinAtar (``cpu``) or the Atari 100k protocol (``paper``, ``game=``).

Per game × replicate seed × method: train for ``epochs × steps_per_epoch`` real agent steps, evaluating every
``eval_every`` epochs on ``eval_episodes`` test episodes (temperature 0.5 for the model-based policies, IRIS);
the final evaluation is the score. A uniform-random policy gives the chance level. Atari games also get
human-normalised scores (mean / median / IQM / optimality gap with stratified-bootstrap CIs, superhuman count).

Every (game, replicate, method) run is one :class:`Job` for the project's executors (``executor=process`` with
``workers=2`` by default; ``smoke`` and ``paper`` run serially). A job seeds everything from its own seed and runs
on ``torch_threads`` threads, so results do not depend on the executor or the job order; each finished job goes
into the run's checkpoint at once, and ``--resume`` reruns only the unfinished ones. With ``checkpoint_every`` > 0
a model-based job also checkpoints itself to its own file (``partial_<game>_<rep>_<method>.pt``) and a resumed job
continues from it, whichever executor runs it.

Claim under test (Agarwal et al., ICML 2024, at small scale): the token policy learns at least as well as
decode-then-convolve at equal env steps while skipping frame decoding, and both beat PPO/DQN at this budget;
removing positional encodings or masking 50 % of the observation tokens hurts (``ablations`` preset).
Reconstructed parts (DART's code is unreleased): sizes are IRIS's or ours (see docs/atari_tokens.md).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pandas as pd
import torch

import envs  # noqa: F401  (registers recast/Atari100k-v0 and recast/MinAtar-v0)
from envs.atari.ale import ATARI_100K_GAMES, ale_games, rom_id
from envs.atari.minatar_env import MINATAR_GAMES
from envs.atari.scores import REFERENCE_SCORES, aggregate_hns
from scenarios.atari import figures
from scenarios.atari.baselines import make_sb3, sb3_chooser
from scenarios.atari.buffer import ReplayBuffer
from scenarios.atari.model_based import (
    MODEL_BASED,
    Actor,
    Collector,
    ModelBasedAgent,
    PolicyTrain,
    TokenizerTrain,
    WorldModelTrain,
    evaluate,
    timed,
)
from scenarios.claims import Better, Claim
from scenarios.errors import UsageError
from scenarios.executors import EXECUTORS, map_jobs
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext, to_jsonable
from scenarios.seeding import seed_everything, torch_threads
from scenarios.stats import ci_table, markdown_table
from scenarios.validation import param

METHODS = (*MODEL_BASED, "ppo", "dqn", "random")
LABELS = {"dart": "DART (token policy)", "dart_no_pos": "DART w/o positional enc.",
          "dart_mask50": "DART, 50 % obs tokens masked", "iris": "IRIS-style (decode + CNN-LSTM)",
          "ppo": "SB3 PPO", "dqn": "SB3 DQN", "random": "random policy"}


@dataclass
class AtariTokensConfig:
    games: list[str] = field(default_factory=lambda: ["breakout", "space_invaders"])  # MinAtar or ALE names
    game: str = ""  # one game (MinAtar or any ALE ROM, e.g. Pong): replaces `games`
    methods: list[str] = param(["dart", "iris", "ppo", "dqn", "random"], choices=METHODS, nonempty=True)
    n_seeds: int = param(3, ge=1, le=1000)
    epochs: int = param(8, ge=1, le=100_000)
    steps_per_epoch: int = param(400, ge=1, le=10_000_000)  # real agent steps per epoch (IRIS 200)
    n_envs: int = param(4, ge=1, le=256)  # parallel collection envs
    eval_every: int = param(2, ge=1, le=100_000)  # epochs
    eval_episodes: int = param(8, ge=1, le=1000)
    eval_temperature: float = param(0.5, gt=0, le=100)  # IRIS test temperature
    eval_max_steps: int = param(1000, ge=1, le=27_000)  # agent steps per test episode (27 000 = 108k frames)
    checkpoint_every: int = param(0, ge=0, le=100_000)  # epochs (0: only after each finished run)
    torch_threads: int = param(1, ge=0, le=1024)  # per job
    executor: str = param("process", choices=EXECUTORS)  # serial | process | ray: one job per (game, seed, method)
    workers: int = param(2, ge=1, le=4096)  # process executor: jobs in parallel
    tokenizer: TokenizerTrain = field(default_factory=TokenizerTrain)
    world_model: WorldModelTrain = field(default_factory=WorldModelTrain)
    policy: PolicyTrain = field(default_factory=PolicyTrain)

    def game_list(self) -> list[str]:
        return [self.game] if self.game else list(self.games)

    def validate(self) -> None:
        for game in self.game_list():
            suite_of(game)
        if not self.game_list():
            raise ValueError("games must name at least one game")
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a confidence interval, got {self.n_seeds}")
        if self.world_model.width % self.world_model.heads or self.policy.width % self.policy.heads:
            raise ValueError("world_model.width and policy.width must be divisible by their heads")
        if 64 % 2 ** len(self.policy.cnn_channels):
            raise ValueError("policy.cnn_channels: at most 6 conv + max-pool stages on 64 × 64 frames")


def suite_of(game: str) -> str:
    """'minatar' or 'atari'; ValueError listing every valid name otherwise."""
    if game in MINATAR_GAMES:
        return "minatar"
    try:
        rom_id(game)
    except ValueError:
        raise ValueError(f"unknown game '{game}'; valid names: MinAtar {', '.join(MINATAR_GAMES)}; "
                         f"ALE {', '.join(ale_games())}") from None
    return "atari"


def make_env(game: str, mode: str = "train") -> gymnasium.Env:
    if suite_of(game) == "minatar":
        return gymnasium.make("recast/MinAtar-v0", game=game)
    return gymnasium.make("recast/Atari100k-v0", game=game, mode=mode)


def hns_name(game: str) -> str | None:
    """The Atari 100k table's name for an ALE game, if it is one of the 26."""
    return next((g for g in ATARI_100K_GAMES if suite_of(game) == "atari" and rom_id(g) == rom_id(game)), None)


def _fingerprint(cfg: AtariTokensConfig) -> str:
    """The config that decides the results (the executor and its worker count do not)."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("executor", "workers")}
    return json.dumps(fields, sort_keys=True)


@dataclass(frozen=True)
class Job:
    """One (game, replicate, method) run. Picklable and self-contained, so any executor runs it; everything random
    in it derives from `seed`, so its result does not depend on what ran before it or beside it.

    ``partial_path`` (set when ``checkpoint_every`` > 0): the file this job checkpoints itself to every
    ``checkpoint_every`` epochs (model-based runs only) and resumes from; the parent deletes it once the job's
    result is in the run's checkpoint.
    """

    cfg: AtariTokensConfig
    game: str
    rep: int
    method: str
    seed: int
    device: str
    partial_path: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return self.game, self.rep, self.method


def jobs(cfg: AtariTokensConfig, ctx: RunContext) -> list[Job]:
    """Per game, per replicate seed, every method (the order of the rows in results.csv)."""
    seeds = ctx.seeds.replicates(cfg.n_seeds)
    return [Job(cfg, game, rep, method, seeds[rep], ctx.device,
                str(ctx.path(f"partial_{game}_{rep}_{method}.pt")) if cfg.checkpoint_every else "")
            for game in cfg.game_list() for rep in range(cfg.n_seeds) for method in cfg.methods]


def run_job(job: Job) -> dict[str, Any]:
    """Train and evaluate one run on ``torch_threads`` threads: its results row, learning curve, figure artefacts
    (model-based runs of replicate 0) and metrics.jsonl records."""
    seed_everything(job.seed)
    log: list[dict] = []
    start = time.perf_counter()
    with torch_threads(job.cfg.torch_threads if job.device == "cpu" else 0):
        if job.method in MODEL_BASED:
            curve, artefacts = train_model_based(job, log)
        else:
            curve, artefacts = train_model_free(job, log), {}
    row = {"game": job.game, "method": job.method, "seed": job.rep, "return": curve[-1]["return"],
           "env_steps": curve[-1]["env_steps"], "train_s": time.perf_counter() - start}
    log.append({"phase": "result", **row})
    return {"row": row, "curve": curve, "artefacts": artefacts, "log": log}


def _load_partial(job: Job) -> dict | None:
    path = Path(job.partial_path) if job.partial_path else None
    return torch.load(path, weights_only=True) if path is not None and path.exists() else None


def _save_partial(job: Job, state: dict) -> None:
    path = Path(job.partial_path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train_model_based(job: Job, log: list[dict]) -> tuple[list[dict], dict]:
    """One DART / IRIS-style run; returns the learning curve and artefacts for the figures (replicate 0)."""
    cfg, game, method, seed = job.cfg, job.game, job.method, job.seed
    envs_ = [make_env(game) for _ in range(cfg.n_envs)]
    agent = ModelBasedAgent(method, envs_[0].action_space.n, cfg.tokenizer, cfg.world_model, cfg.policy,
                            job.device, seed)
    buffer, curve, first_epoch = ReplayBuffer(), [], 1
    saved = _load_partial(job)
    if saved is not None:  # resume inside this run: models, optimisers, buffer, curve, log, RNG
        for name, part in agent.modules().items():
            part.load_state_dict(saved[name])
        buffer.load_state_dict(saved["buffer"])
        curve, first_epoch = list(saved["curve"]), saved["epoch"] + 1
        log += json.loads(saved["log"])
        torch.set_rng_state(saved["torch_rng"])
        agent.rng = np.random.default_rng([seed, first_epoch])
    collector = Collector(envs_, seed + 1000 * first_epoch)
    actor = Actor(agent.tokenizer, agent.policy, cfg.n_envs, job.device)
    eval_envs = [make_env(game, "test") for _ in range(cfg.eval_episodes)]
    for epoch in range(first_epoch, cfg.epochs + 1):
        collector.collect(buffer, lambda o, n: actor.act(o, n, agent.rng, cfg.policy.epsilon, 1.0),
                          cfg.steps_per_epoch)
        record = {"phase": "train", "game": game, "method": method, "seed": job.rep, "epoch": epoch,
                  "env_steps": len(buffer)}
        if epoch >= cfg.tokenizer.start_epoch:
            losses, seconds = timed(lambda: agent.train_tokenizer(buffer))
            record.update({f"tokenizer_{k}": v for k, v in losses.items()}, tokenizer_s=seconds)
        if epoch >= min(cfg.world_model.start_epoch, cfg.policy.start_epoch):
            agent.tokenize_buffer(buffer)
        for part, start, fn in (("world_model", cfg.world_model.start_epoch, agent.train_world_model),
                                ("policy", cfg.policy.start_epoch, agent.train_policy)):
            if epoch >= start:
                losses, seconds = timed(partial(fn, buffer))
                record.update({f"{part}_{k}": v for k, v in losses.items()}, **{f"{part}_s": seconds})
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            evaluator = Actor(agent.tokenizer, agent.policy, len(eval_envs), job.device)
            choose = partial(evaluator.act, rng=agent.rng, epsilon=0.0, temperature=cfg.eval_temperature)
            returns, seconds = timed(partial(evaluate, eval_envs, choose, seed + 10_000 + epoch, cfg.eval_max_steps))
            record.update(eval_return=float(np.mean(returns)), eval_s=seconds)
            curve.append({"game": game, "method": LABELS[method], "seed": job.rep, "env_steps": len(buffer),
                          "return": float(np.mean(returns))})
        log.append(to_jsonable(record))
        if job.partial_path and epoch % cfg.checkpoint_every == 0 and epoch < cfg.epochs:
            _save_partial(job, {"epoch": epoch, "curve": curve, "log": json.dumps(log), "buffer": buffer.state_dict(),
                                "torch_rng": torch.get_rng_state(),
                                **{name: part.state_dict() for name, part in agent.modules().items()}})
    artefacts = figures.model_artefacts(agent, buffer, cfg.policy.horizon) if job.rep == 0 else {}
    return curve, artefacts


def train_model_free(job: Job, log: list[dict]) -> list[dict]:
    """SB3 PPO / DQN (or the random policy) evaluated at the same env-step marks as the model-based runs."""
    cfg, game, method, seed = job.cfg, job.game, job.method, job.seed
    eval_envs = [make_env(game, "test") for _ in range(cfg.eval_episodes)]
    curve, steps = [], 0
    rng, n_actions = np.random.default_rng(seed), eval_envs[0].action_space.n
    model = None
    if method != "random":
        total = cfg.epochs * cfg.steps_per_epoch
        model = make_sb3(method, [lambda: make_env(game) for _ in range(cfg.n_envs)], seed, job.device, total)
    for epoch in range(1, cfg.epochs + 1):
        if model is not None:
            model.learn(cfg.steps_per_epoch, reset_num_timesteps=False)
        steps += cfg.steps_per_epoch
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            choose = sb3_chooser(model) if model is not None else (lambda o, _n: rng.integers(0, n_actions, len(o)))
            returns = evaluate(eval_envs, choose, seed + 10_000 + epoch, cfg.eval_max_steps)
            curve.append({"game": game, "method": LABELS[method], "seed": job.rep, "env_steps": steps,
                          "return": float(np.mean(returns))})
            log.append({"phase": "eval", "game": game, "method": method, "seed": job.rep, "env_steps": steps,
                        "eval_return": float(np.mean(returns))})
    return curve


class Checkpoints:
    """The run's checkpoint: the finished runs' rows, curves and artefacts, under the config's fingerprint.

    A fresh run writes it at once, so a resume always checks the fingerprint before any job (or a job's own
    partial checkpoint) is read.
    """

    def __init__(self, cfg: AtariTokensConfig, ctx: RunContext):
        self.ctx, self.fingerprint = ctx, _fingerprint(cfg)
        saved = ctx.load_checkpoint()
        if saved is not None and saved.get("config") != self.fingerprint:
            raise UsageError(f"{ctx.path('checkpoint.pt')} was written by another config; start a new run "
                             "(nothing was overwritten)")
        if saved is None:
            saved = {"rows": [], "curves": [], "artefacts": {}}
        self.rows, self.curves, self.artefacts = saved["rows"], saved["curves"], saved["artefacts"]
        if not ctx.path("checkpoint.pt").exists():
            self.save()

    def done(self) -> set[tuple[str, int, str]]:
        return {(r["game"], r["seed"], r["method"]) for r in self.rows}

    def record(self, job: Job, result: dict[str, Any]) -> None:
        """A finished job: its records into metrics.jsonl, its results into the checkpoint (then its partial goes)."""
        for entry in result["log"]:
            self.ctx.log(entry)
        self.rows.append(result["row"])
        self.curves += result["curve"]
        if result["artefacts"]:
            self.artefacts[f"{job.game}/{job.method}"] = result["artefacts"]
        self.save()
        if job.partial_path:
            Path(job.partial_path).unlink(missing_ok=True)

    def save(self) -> None:
        self.ctx.save_checkpoint({"config": self.fingerprint, "rows": self.rows, "curves": self.curves,
                                  "artefacts": self.artefacts})


def run(cfg: AtariTokensConfig, ctx: RunContext) -> ScenarioResult:
    """Every unfinished (game, replicate, method) job through the executor; each result is checkpointed as it
    arrives, so ``--resume`` reruns only the jobs that had not finished."""
    save = Checkpoints(cfg, ctx)
    all_jobs = jobs(cfg, ctx)
    done = save.done()
    todo = [job for job in all_jobs if job.key not in done]
    map_jobs(run_job, todo, cfg.executor, max_workers=cfg.workers, show_progress=ctx.show_progress,
             on_result=lambda i, result: save.record(todo[i], result))
    order = {job.key: i for i, job in enumerate(all_jobs)}  # job order, whatever order the jobs finished in
    rows = sorted(save.rows, key=lambda r: order[(r["game"], r["seed"], r["method"])])
    method_of = {label: m for m, label in LABELS.items()}
    curves = sorted(save.curves, key=lambda c: order[(c["game"], c["seed"], method_of[c["method"]])])
    return _report(cfg, ctx, rows, curves, save.artefacts)


def _report(cfg: AtariTokensConfig, ctx: RunContext, rows: list[dict], curve_rows: list[dict],
            artefacts: dict[str, dict]) -> ScenarioResult:
    df, curves = pd.DataFrame(rows), pd.DataFrame(curve_rows)
    df["hns"] = [float((r - REFERENCE_SCORES[n][0]) / (REFERENCE_SCORES[n][1] - REFERENCE_SCORES[n][0]))
                 if (n := hns_name(g)) else np.nan for g, r in zip(df["game"], df["return"])]
    df.to_csv(ctx.path("results.csv"), index=False)
    curves.to_csv(ctx.path("curves.csv"), index=False)
    table = ci_table(df.assign(method=df["method"].map(LABELS)), ["game", "method"], ["return", "train_s"], digits=2)
    chance = df[df["method"] == "random"].groupby("game")["return"].mean()
    for row in table:
        game = row["game"]
        row["random policy (chance)"] = f"{chance[game]:.2f}" if game in chance else "not run"
    lines = [markdown_table(table), "",
             (f"Final test return (mean ± 95 % CI over {cfg.n_seeds} seeds, {cfg.eval_episodes} test episodes each, "
              f"≤ {cfg.eval_max_steps} agent steps) after {cfg.epochs * cfg.steps_per_epoch} real agent steps; "
              "train_s = wall seconds per run. Model-based policies act at temperature "
              f"{cfg.eval_temperature:g}; PPO samples its policy; DQN is ε-greedy (ε = 0.05).")]
    hns_rows = _hns_table(df)
    if hns_rows:
        lines += ["", "Human-normalised scores (stratified-bootstrap 95 % CIs):", "", markdown_table(hns_rows)]
    ctx.path("table.md").write_text("\n".join(lines) + "\n")
    figures.learning_curves(curves, ctx.path("learning_curves.png"))
    for key, art in artefacts.items():
        game, method = key.split("/")
        figures.strips(art, ctx.path(f"tokens_{game}_{method}.png"), f"{game}: {LABELS[method]}")
    metrics = {f"{g}_{m}_return": float(v) for (g, m), v in df.groupby(["game", "method"])["return"].mean().items()}
    return ScenarioResult(metrics=metrics, table=table + hns_rows)


def _hns_table(df: pd.DataFrame) -> list[dict]:
    rows = []
    atari = df[df["hns"].notna()]
    for method, part in atari.groupby("method", sort=False):
        scores = {hns_name(g): p.sort_values("seed")["return"].to_numpy() for g, p in part.groupby("game")}
        if len({len(v) for v in scores.values()}) != 1:
            continue
        agg = aggregate_hns(scores, rng=np.random.default_rng(0))
        rows.append({"method": LABELS[method], "games": len(scores),
                     **{k: f"{agg[k]:.3f} [{agg[k + '_low']:.3f}, {agg[k + '_high']:.3f}]"
                        for k in ("mean", "median", "iqm", "optimality_gap")},
                     "superhuman": int(agg["superhuman"])})
    return rows


SMALL_AGENT = {"tokenizer": {"channels": 8, "codebook_size": 32, "embed_dim": 8, "batch": 8, "steps": 2},
               "world_model": {"width": 16, "depth": 1, "heads": 2, "batch": 2, "seq_len": 3, "steps": 2},
               "policy": {"width": 16, "depth": 1, "heads": 2, "cnn_channels": [4, 4, 4, 4], "lstm_hidden": 16,
                          "batch": 2, "burn_in": 2, "horizon": 2, "steps": 2}}

PRESETS = {
    "smoke": {"games": ["breakout"], "n_seeds": 2, "epochs": 3, "steps_per_epoch": 32, "n_envs": 2, "eval_every": 3,
              "eval_episodes": 2, "eval_max_steps": 30, "executor": "serial", **SMALL_AGENT},
    # the defaults: MinAtar breakout + space_invaders, 3 seeds, 8 epochs × 400 steps; 30 jobs on 2 process workers.
    # One job alone on 1 thread (CPU s, breakout / space_invaders): dart 59 / 65, iris 76 / 86, ppo 12 / 15,
    # dqn 22 / 24, random 0.1 / 0.5 → 1,080 CPU s in all, ≈ 9 min on 2 workers (world-model and actor-critic
    # updates per epoch cut from 30 and 20 to 20 and 10 to fit the 15-minute budget; docs/atari_tokens.md)
    "cpu": {},
    "ablations": {"games": ["breakout"], "methods": ["dart", "dart_no_pos", "dart_mask50", "random"]},
    "paper": {"games": list(ATARI_100K_GAMES), "n_seeds": 5, "epochs": 500, "steps_per_epoch": 200, "n_envs": 1,
              "eval_every": 5, "eval_episodes": 16, "eval_max_steps": 27_000, "checkpoint_every": 25,
              "torch_threads": 0, "executor": "serial", "methods": ["dart", "iris", "ppo", "dqn", "random"],
              "tokenizer": {"channels": 64, "n_down": 4, "codebook_size": 512, "embed_dim": 512, "lr": 1e-4,
                            "batch": 256, "steps": 200, "start_epoch": 5},
              "world_model": {"width": 256, "depth": 10, "heads": 4, "dropout": 0.1, "lr": 1e-4, "batch": 64,
                              "seq_len": 20, "steps": 200, "start_epoch": 25},
              "policy": {"width": 256, "depth": 3, "heads": 4, "cnn_channels": [32, 32, 64, 64], "lstm_hidden": 512,
                         "lr": 1e-4, "batch": 64, "burn_in": 20, "horizon": 20, "gamma": 0.995, "steps": 200,
                         "start_epoch": 50}},
}

CLAIM = Claim(
    statement="At equal env steps the token policy learns at least as well as decode-then-convolve, and both beat "
              "PPO/DQN at this budget",
    source="Agarwal, Andrews, Ebrahimi Kahou, ICML 2024 (DART)",
    rules=tuple(Better("return", a, b, where=(("game", g),)) for g in ("breakout", "space_invaders")
                for a, b in (("dart", "iris"), ("dart", "ppo"), ("dart", "dqn"))),
    chance={"return": "the random policy's return, measured in the same run (column 'random policy (chance)')"},
)

SCENARIO = Scenario(
    name="atari_tokens",
    description="DART token policy vs IRIS-style decode+CNN-LSTM vs SB3 PPO/DQN on MinAtar / Atari 100k",
    config=AtariTokensConfig,
    run=run,
    presets=PRESETS,
    main_metric="breakout_dart_return",
    claim=CLAIM,
)
