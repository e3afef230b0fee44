"""``goal_reaching``: Merlin vs GCSL / WGCSL / GCBC, offline, on every task × dataset × seed (spec ``merlin.md``).

For each task (point arena, four rooms, reacher; Fetch with the robotics extra), dataset kind
(``expert``: scripted controller + noise; ``random``: uniform actions) and replicate seed, one dataset
is built and every agent is trained on it (common random numbers): one picklable :class:`Job`, mapped
onto the project's executors (``executor=process workers=2`` by default; each finished job is checkpointed,
so ``--resume`` reruns only the unfinished ones). Evaluation rolls out
``eval_episodes`` episodes of the registered env (its vector entry point) with the deterministic
policy and reports (spec §5):

* success rate — ``info["is_success"]`` at the last (50th) step;
* discounted return — Σ_{t<50} γ^t (r_t + 1), γ = 0.98 (max ≈ 31.8).

"last" = the final policy; "best" = the policy with the best discounted return among the periodic
evaluations (the paper keeps the best checkpoint), selected on one set of evaluation episodes and
reported on a fresh set. Merlin's test-time horizon h is also swept after training (evaluation only).
Tables give mean ± 95 % CI over seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium
import numpy as np
import pandas as pd
import torch

import envs  # noqa: F401  (registers recast/*)
from agents.policies import AGENTS, LearnerConfig, ReverseConfig, StitchConfig, WGCSLConfig, make_agent
from envs.goals import build_dataset, load_dataset
from scenarios.claims import Better, Claim
from scenarios.executors import EXECUTORS, map_resumable
from scenarios.goals.figures import bar_figure, rooms_figure
from scenarios.plotting import line_with_ci
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.seeding import torch_threads
from scenarios.stats import aggregate, ci_table, markdown_table, mean_ci
from scenarios.validation import param

EPISODE_STEPS = 50
BASELINES = ("gcsl", "wgcsl", "gcbc")


@dataclass
class TaskSettings:
    """One task: its env id and Merlin's tuned settings (spec §4: p_her expert / random, test h)."""

    env_id: str = "recast/PointReach-v0"
    p_her_expert: float = param(1.0, ge=0, le=1)
    p_her_random: float = param(1.0, ge=0, le=1)
    test_horizon: int = param(1, ge=1, le=100_000)
    wgcsl_target_every: int = param(1, ge=1, le=1000)  # AWGCSL's n_batches: updates between target updates


def default_tasks() -> dict[str, TaskSettings]:
    return {
        "point_reach": TaskSettings("recast/PointReach-v0", 1.0, 1.0, 1),
        "point_rooms": TaskSettings("recast/PointRooms-v0", 0.2, 1.0, 1),
        "reacher": TaskSettings("recast/ReacherGoal-v0", 0.2, 1.0, 5, wgcsl_target_every=10),
        "fetch_reach": TaskSettings("recast/FetchReach-v0", 1.0, 1.0, 1),  # needs the robotics extra
        "fetch_push": TaskSettings("recast/FetchPush-v0", 0.0, 0.2, 20),
        "mujoco_reacher": TaskSettings("recast/MujocoReacherGoal-v0", 0.2, 1.0, 5, wgcsl_target_every=10),
    }


@dataclass
class DataConfig:
    n_trajectories: int = param(1000, ge=1, le=10_000_000)  # per dataset (official buffer size: 2,000)
    noise: float = param(0.2, ge=0, le=100)  # expert's Gaussian action noise
    random_eps: float = param(0.3, ge=0, le=1)  # expert's probability of a uniform random action
    save_first: bool = True  # write seed 0's datasets to the run dir (.npz) and train on the reloaded copy


@dataclass
class GoalReachingConfig:
    tasks: list[str] = field(default_factory=lambda: ["point_reach", "point_rooms"])  # the official worlds
    datasets: list[str] = param(["expert", "random"], choices=("expert", "random"), nonempty=True)
    agents: list[str] = field(default_factory=lambda: ["merlin", "merlin_p", "merlin_np", "gcsl", "wgcsl", "gcbc"])
    n_seeds: int = param(5, ge=1, le=10_000)
    updates: int = param(500, ge=1, le=10**9)  # gradient steps per agent (spec: 5e5)
    eval_every: int = param(250, ge=1, le=10**9)  # periodic evaluations for best-checkpoint selection
    eval_episodes: int = param(100, ge=1, le=1_000_000)
    gamma: float = param(0.98, gt=0, le=1)
    # Merlin h sweep (eval only)
    test_horizons: list[int] = param([1, 2, 5, 10, 20, 50], ge=1, le=100_000, nonempty=True)
    n_show: int = param(6, ge=0, le=1000)  # four-rooms episodes drawn per agent
    # intra-op threads during the run (small nets: 1 is fastest, and robust to busy cores)
    torch_threads: int = param(1, ge=0, le=1024)
    executor: str = param("process", choices=EXECUTORS)  # serial | process | ray: one job per task × dataset × seed
    workers: int = param(2, ge=1, le=4096)  # process executor: parallel jobs
    settings: dict[str, TaskSettings] = field(default_factory=default_tasks)
    data: DataConfig = field(default_factory=DataConfig)
    # cpu-sized learner: 2 × 128, batch 256, lr 1e-3 (spec: 3 × 256, 512, 5e-4 — the paper preset)
    learner: LearnerConfig = field(default_factory=lambda: LearnerConfig(hidden=[128, 128], batch_size=256, lr=1e-3))
    stitch: StitchConfig = field(default_factory=lambda: StitchConfig(encoder_hidden=128, encoder_steps=150))
    wgcsl: WGCSLConfig = field(default_factory=WGCSLConfig)  # AWGCSL's settings
    # cpu-sized Merlin-P reverse model (paper preset: GRU 2 × 256, 800 + 40,000 steps)
    reverse: ReverseConfig = field(default_factory=lambda: ReverseConfig(
        gru_hidden=32, gru_layers=1, dynamics_steps=60, dynamics_batch=64, cvae_hidden=64, cvae_steps=300))

    def validate(self) -> None:
        unknown = [t for t in self.tasks if t not in self.settings]
        if unknown or not self.tasks:
            raise ValueError(f"tasks {unknown or '[]'} have no settings; known: {sorted(self.settings)}")
        for task in self.tasks:
            if self.settings[task].env_id not in gymnasium.registry:
                raise ValueError(f"task {task}: env {self.settings[task].env_id} is not registered "
                                 f"(Fetch needs: pip install -e '.[robotics]')")
        if not self.datasets or set(self.datasets) - {"expert", "random"}:
            raise ValueError(f"datasets must be a non-empty subset of [expert, random], got {self.datasets}")
        if not self.agents or set(self.agents) - set(AGENTS):
            raise ValueError(f"agents must be a non-empty subset of {sorted(AGENTS)}, got {self.agents}")
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be ≥ 2 for a confidence interval, got {self.n_seeds}")
        if self.updates < 1 or not 1 <= self.eval_every <= self.updates or self.eval_episodes < 1:
            raise ValueError("need updates ≥ 1, 1 ≤ eval_every ≤ updates and eval_episodes ≥ 1")
        if not 0.0 < self.gamma < 1.0 or min(self.test_horizons, default=1) < 1:
            raise ValueError("gamma must be in (0, 1) and test_horizons ≥ 1")
        if self.torch_threads < 1:
            raise ValueError(f"torch_threads must be ≥ 1, got {self.torch_threads}")
        if self.data.n_trajectories < 1:
            raise ValueError(f"data.n_trajectories must be ≥ 1, got {self.data.n_trajectories}")
        self.learner.validate()
        self.stitch.validate()
        self.wgcsl.validate()
        self.reverse.validate()


def evaluate(agent: Any, vec_env: gymnasium.vector.VectorEnv, seed: int, gamma: float,
             record: bool = False, horizon: int | None = None) -> dict[str, Any]:
    """Run one episode in each sub-env with the deterministic policy: success at the last step, discounted return.

    `horizon` overrides Merlin's constant test-time h (None: the agent's own)."""
    obs, _ = vec_env.reset(seed=seed)
    discounted = np.zeros(vec_env.num_envs)
    path = [obs["achieved_goal"]]
    for t in range(EPISODE_STEPS):
        action = agent.act(obs["observation"], obs["desired_goal"], **({} if horizon is None else {"horizon": horizon}))
        obs, reward, _, _, info = vec_env.step(action)
        discounted += gamma**t * (np.asarray(reward, float) + 1.0)
        path.append(obs["achieved_goal"])
    success = np.asarray(info["is_success"], float)
    out = {"success": float(success.mean()), "return": float(discounted.mean())}
    if record:
        out.update(path=np.stack(path, 1), goal=obs["desired_goal"].copy(), episode_success=success)
    return out


def train_and_evaluate(agent: Any, cfg: GoalReachingConfig, vec_env: Any, select_seed: int, test_seed: int,
                       log: Any) -> dict[str, Any]:
    """Train for ``cfg.updates`` steps with periodic evaluation; evaluate the last and best policies afresh."""
    best_return, best_state, losses = -np.inf, None, []
    started = time.perf_counter()
    for step in range(1, cfg.updates + 1):
        losses.append(agent.update()["policy_loss"])
        if step % cfg.eval_every == 0 or step == cfg.updates:
            ev = evaluate(agent, vec_env, select_seed, cfg.gamma)
            log({"step": step, "policy_loss": float(np.mean(losses[-cfg.eval_every:])), **ev})
            if ev["return"] > best_return:
                best_return, best_state = ev["return"], agent.state_dict()
    train_s = time.perf_counter() - started
    last = evaluate(agent, vec_env, test_seed, cfg.gamma, record=True)
    final_state = agent.state_dict()
    agent.load_state_dict(best_state)
    best = evaluate(agent, vec_env, test_seed, cfg.gamma)
    agent.load_state_dict(final_state)
    return {"last": last, "best": best, "train_s": train_s, "final_loss": float(np.mean(losses[-cfg.eval_every:]))}


@dataclass(frozen=True)
class Job:
    """One task × dataset kind × replicate: build its dataset, train and evaluate every agent on it.

    Picklable and self-contained, so any executor runs it; everything random in it derives from its seeds,
    so its result is the same whatever ran before it or beside it.
    """

    cfg: GoalReachingConfig
    task: str
    kind: str
    replicate: int
    seed: int  # the agents' seed (common to every agent of the job)
    data_seed: int
    select_seed: int  # evaluation episodes that pick the best checkpoint
    test_seed: int  # fresh evaluation episodes that report it
    device: str
    dataset_path: str | None = None  # save the dataset here and train on the reloaded copy
    keep_paths: bool = False  # return the first episodes' paths (the four-rooms figure)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.kind}/{self.replicate}"


def run_job(job: Job) -> dict[str, Any]:
    """Every agent on one dataset: table rows, Merlin's test-h sweep rows, episode paths, training log."""
    cfg, settings, log = job.cfg, job.cfg.settings[job.task], []
    with torch_threads(cfg.torch_threads if job.device == "cpu" else 0):
        env = gymnasium.make(settings.env_id).unwrapped  # the dataset builder and reward_fn
        vec_env = gymnasium.make_vec(settings.env_id, num_envs=cfg.eval_episodes)
        data = build_dataset(env, job.kind, cfg.data.n_trajectories, EPISODE_STEPS, cfg.data.noise,
                             cfg.data.random_eps, seed=job.data_seed, env_id=settings.env_id)
        if job.dataset_path is not None:  # exercise the documented file format end to end
            data = load_dataset(data.save(job.dataset_path), env)
        data_success = float(data.final_success(env.distance_threshold).mean())
        p_her = settings.p_her_expert if job.kind == "expert" else settings.p_her_random
        learner = replace(cfg.learner, p_her=p_her, test_horizon=settings.test_horizon)
        wgcsl = replace(cfg.wgcsl, target_every=settings.wgcsl_target_every)
        rows, sweep, shown = [], [], {}
        for name in cfg.agents:
            agent = make_agent(name, data, learner, stitch=cfg.stitch, wgcsl=wgcsl, reverse=cfg.reverse,
                               reward_fn=env.compute_reward, seed=job.seed, device=job.device)
            key = {"task": job.task, "dataset": job.kind, "agent": name, "seed": job.replicate}
            out = train_and_evaluate(agent, cfg, vec_env, job.select_seed, job.test_seed,
                                     lambda rec, key=key: log.append({**key, **rec}))
            rows.append({**key, "success": out["last"]["success"], "return": out["last"]["return"],
                         "best_success": out["best"]["success"], "best_return": out["best"]["return"],
                         "final_loss": out["final_loss"], "data_success": data_success,
                         "jump_rate": getattr(agent, "jump_rate", np.nan),
                         "kept_rate": getattr(agent, "kept_rate", np.nan), "train_s": out["train_s"]})
            if job.keep_paths:
                shown[name] = {k: torch.from_numpy(np.ascontiguousarray(out["last"][k][: cfg.n_show]))
                               for k in ("path", "goal", "episode_success")}
            if name == "merlin":  # Merlin's test-time horizon, evaluation only (its trained h: the "last" episodes)
                for h in cfg.test_horizons:
                    ev = out["last"] if h == settings.test_horizon else \
                        evaluate(agent, vec_env, job.test_seed, cfg.gamma, horizon=h)
                    sweep.append({**key, "task/dataset": f"{job.task}/{job.kind}", "test_horizon": h,
                                  "success": ev["success"], "return": ev["return"]})
        vec_env.close()
    return {"rows": rows, "sweep": sweep, "shown": shown, "log": log}


def jobs(cfg: GoalReachingConfig, ctx: RunContext) -> list[Job]:
    """Per task, dataset kind and replicate: one job (seeds named as before, so runs match the serial loop)."""
    seeds, out = ctx.seeds.replicates(cfg.n_seeds), []
    for task in cfg.tasks:
        for kind in cfg.datasets:
            for r in range(cfg.n_seeds):
                path = str(ctx.path(f"dataset_{task}_{kind}.npz")) if cfg.data.save_first and r == 0 else None
                out.append(Job(cfg, task, kind, r, seeds[r], ctx.seeds.seed(f"data/{task}/{kind}/{r}"),
                               ctx.seeds.seed(f"eval/select/{task}/{r}"), ctx.seeds.seed(f"eval/test/{task}/{r}"),
                               ctx.device, path, keep_paths=task == "point_rooms" and r == 0))
    return out


def run(cfg: GoalReachingConfig, ctx: RunContext) -> ScenarioResult:
    """Every job through the executor; each finished job is logged and checkpointed at once (``--resume``)."""
    todo = jobs(cfg, ctx)
    kept = map_resumable(run_job, todo, [job.key for job in todo], ctx, cfg.executor, max_workers=cfg.workers)
    rows = [row for k in kept for row in k["rows"]]
    sweep = [row for k in kept for row in k["sweep"]]
    shown = {(job.kind, name): {key: v.numpy() for key, v in paths.items()}
             for job, k in zip(todo, kept) for name, paths in k["shown"].items()}
    return report(cfg, ctx, pd.DataFrame(rows), pd.DataFrame(sweep), shown)


def report(cfg: GoalReachingConfig, ctx: RunContext, frame: pd.DataFrame, sweep: pd.DataFrame,
           shown: dict) -> ScenarioResult:
    """results.csv, table.md (mean ± 95 % CI), bar / four-rooms / test-h figures, flat metrics."""
    frame.to_csv(ctx.path("results.csv"), index=False)
    by = ["task", "dataset", "agent"]
    table = ci_table(frame, by, ["success", "return", "best_success", "best_return"], digits=3)
    agg = aggregate(frame, by, ["success", "return", "best_return", "data_success", "train_s"])
    for row, (_, a) in zip(table, agg.iterrows()):
        row["data success"] = round(float(a["data_success_mean"]), 3)
        row["train s"] = round(float(a["train_s_mean"]), 1)
    claims = claim_rows(frame, cfg)
    text = ["# goal_reaching", "", f"mean ± 95 % CI over {cfg.n_seeds} seeds; success = is_success at step 50; "
            f"return = Σ γ^t (r_t + 1), γ = {cfg.gamma} (max {(1 - cfg.gamma**50) / (1 - cfg.gamma):.1f}); "
            "best_* = best periodic checkpoint, re-evaluated on fresh episodes.", "", markdown_table(table), "",
            "## Merlin vs the best baseline (last checkpoint, discounted return; Δ paired by seed, ± 95 % CI)", "",
            markdown_table(claims)]
    ranking = ranking_rows(frame)
    if ranking:
        text += ["", "## The paper's ranking Merlin ≥ WGCSL > GCSL > GCBC (last checkpoint; Δ paired by seed, ± 95 % CI)",
                 "", "≥ holds unless the CI is wholly below 0; > holds only when the CI is wholly above 0.", "",
                 markdown_table(ranking)]
    if not sweep.empty:
        sweep.to_csv(ctx.path("test_horizon.csv"), index=False)
        h_table = ci_table(sweep, ["task", "dataset", "agent", "test_horizon"], ["success", "return"], digits=3)
        text += ["", "## Merlin's test-time horizon h (evaluation only; the trained h is the task's setting)", "",
                 markdown_table(h_table)]
        line_with_ci(sweep[sweep.agent == "merlin"] if "merlin" in set(sweep.agent) else sweep, "test_horizon",
                     "return", "task/dataset", ctx.path("test_horizon.png"), ylabel="discounted return",
                     title="Merlin: return vs constant test-time h (± 95% CI)")
    ctx.path("table.md").write_text("\n".join(text) + "\n")
    bar_figure(agg, cfg.agents, ctx.path("bars.png"))
    if shown:
        rooms_env = gymnasium.make(cfg.settings["point_rooms"].env_id).unwrapped
        rooms_figure(shown, rooms_env, cfg.datasets, cfg.agents, ctx.path("four_rooms_trajectories.png"))

    metrics: dict[str, float] = {}
    for _, a in agg.iterrows():
        prefix = f"{a['task']}/{a['dataset']}/{a['agent']}"
        metrics[f"{prefix}/success"] = float(a["success_mean"])
        metrics[f"{prefix}/return"] = float(a["return_mean"])
        metrics[f"{prefix}/best_return"] = float(a["best_return_mean"])
    for row in claims:
        metrics[f"{row['task']}/{row['dataset']}/merlin_minus_best_baseline"] = row["Δ return"]
    for row in ranking:
        metrics[f"{row['task']}/{row['dataset']}/{row['metric']}/ranking_holds"] = float(row["claim"] == "holds")
    if "merlin" in cfg.agents:
        metrics["merlin_mean_return"] = float(frame[frame.agent == "merlin"]["return"].mean())
        metrics["merlin_cells_at_least_best_baseline"] = float(sum(row["Δ return"] >= 0 for row in claims))
    return ScenarioResult(metrics=metrics, table=table)


RANKING = (("merlin", "wgcsl", "≥"), ("wgcsl", "gcsl", ">"), ("gcsl", "gcbc", ">"))


def ranking_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per task × dataset × metric (return, success): each link of Merlin ≥ WGCSL > GCSL > GCBC as the paired
    difference (mean ± 95 % CI over seeds) and whether it holds; "claim" = every link holds."""
    if not all(a in set(frame.agent) for link in RANKING for a in link[:2]):
        return []
    out = []
    for (task, kind), cell in frame.groupby(["task", "dataset"], sort=False):
        for metric in ("return", "success"):
            values = cell.pivot(index="seed", columns="agent", values=metric)
            row: dict[str, Any] = {"task": task, "dataset": kind, "metric": metric}
            verdicts = []
            for hi, lo, rel in RANKING:
                delta, half = mean_ci(values[hi] - values[lo])
                holds = delta + half >= 0 if rel == "≥" else delta - half > 0
                verdicts.append(holds)
                row[f"{hi} {rel} {lo}"] = f"{delta:+.3g} ± {half:.2g} ({'holds' if holds else 'fails'})"
            row["claim"] = "holds" if all(verdicts) else "fails"
            out.append(row)
    return out


def claim_rows(frame: pd.DataFrame, cfg: GoalReachingConfig) -> list[dict[str, Any]]:
    """Per task × dataset: Merlin's (and Merlin-NP's) return minus the best baseline's (by mean), paired by seed
    (each seed's agents share one dataset), as mean ± 95 % CI; "ahead"/"behind" when the CI excludes 0."""
    baselines = [b for b in BASELINES if b in cfg.agents]
    merlins = [m for m in ("merlin", "merlin_p", "merlin_np") if m in cfg.agents]
    if not baselines or not merlins:
        return []
    out = []
    for (task, kind), cell in frame.groupby(["task", "dataset"], sort=False):
        returns = cell.pivot(index="seed", columns="agent", values="return")
        best = max(baselines, key=lambda b: returns[b].mean())
        row: dict[str, Any] = {"task": task, "dataset": kind, "best baseline": best,
                               "baseline return": round(float(returns[best].mean()), 2)}
        for m in merlins:
            delta, half = mean_ci(returns[m] - returns[best])
            label = "Δ return" if m == "merlin" else f"Δ {m}"
            row[label] = round(delta, 2)
            row[f"{label} ci95"] = round(half, 2)
            row[f"{m} verdict"] = "ahead" if delta - half > 0 else "behind" if delta + half < 0 else "tied"
        out.append(row)
    return out


PRESETS = {
    "smoke": {"tasks": ["point_rooms"], "n_seeds": 2, "updates": 20, "eval_every": 20, "eval_episodes": 8,
              "test_horizons": [1, 5], "n_show": 3, "executor": "serial",
              "data": {"n_trajectories": 12},
              "learner": {"hidden": [16], "batch_size": 32},
              "stitch": {"encoder_hidden": 16, "encoder_layers": 1, "encoder_steps": 3, "encoder_batch": 16},
              "reverse": {"gru_hidden": 8, "gru_layers": 1, "dynamics_steps": 2, "dynamics_batch": 8,
                          "cvae_hidden": 8, "cvae_steps": 2, "cvae_batch": 16}},
    "cpu": {},
    # the MuJoCo worlds (robotics extra): Fetch on gymnasium-robotics v4, Gymnasium's Reacher-v5 + goal wrapper
    "mujoco": {"tasks": ["fetch_reach", "fetch_push", "mujoco_reacher"]},
    "paper": {"n_seeds": 10, "updates": 500_000, "eval_every": 2000, "eval_episodes": 100,
              "data": {"n_trajectories": 2000},
              "learner": {"hidden": [256, 256, 256], "batch_size": 512, "lr": 5e-4},
              "stitch": {"encoder_hidden": 512, "encoder_steps": 40_000, "encoder_batch": 256},
              "reverse": {"gru_hidden": 256, "dynamics_steps": 800, "dynamics_batch": 256, "cvae_hidden": 256,
                          "cvae_steps": 40_000}},
}

CLAIM = Claim(
    statement="Merlin ≥ WGCSL > GCSL > GCBC in discounted return on offline goal reaching (here: four rooms, "
              "random data)",
    source="Jain & Ravanbakhsh, ICLR 2024",
    rules=tuple(Better("return", a, b, key="agent", margin=-0.5 if a == "merlin" else 0.0,
                       where=(("task", "point_rooms"), ("dataset", "random")))
                for a, b in (("merlin", "wgcsl"), ("wgcsl", "gcsl"), ("gcsl", "gcbc"))),
    chance={"return": "trivial baseline: GCBC on random data (0.74 in four rooms in the README's run); "
                      "maximum 31.8 (Σ 0.98^t over 50 steps, success from the first step)"},
)

SCENARIO = Scenario(
    name="goal_reaching",
    description="Merlin (+P, +NP) vs GCSL, WGCSL, GCBC: offline goal reaching, point/four-rooms/reacher × expert/random",
    config=GoalReachingConfig,
    run=run,
    presets=PRESETS,
    main_metric="merlin_mean_return",
    claim=CLAIM,
)
