"""``tpp_forecasting``: CDiff vs autoregressive and Hawkes baselines on N-event forecasting (spec tpp.md §7–8).

For each replicate seed: draw a synthetic multivariate Hawkes data set (or load ``data.path``), fit the
Hawkes MLE and the IFTPP baseline once, and for every horizon N train CDiff on the history/target windows
(N = last events of each sequence). Every model forecasts the test windows from ``n_samples`` samples
reduced by the same point-forecast rule (mean τ, mode type); the env ``recast/EventForecast-v0`` scores
them (OTD averaged over the deletion costs, RMSE_e, RMSE_Δt, sMAPE_Δt). On synthetic data the true
process is the oracle.

    python -m scenarios.run tpp_forecasting
    python -m scenarios.run tpp_forecasting data.path=taxi.pkl models=[cdiff,iftpp,hawkes_mle]

Writes results.csv (one row per seed × N × model), table.md (mean ± 95 % CI over seeds, plus the paired
OTD gap IFTPP − CDiff per N), otd_vs_n.png, otd_per_event_vs_n.png and count_rmse_vs_n.png.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from agents.forecasters import (
    CDiff,
    CDiffConfig,
    EventBatch,
    Forecaster,
    HawkesForecaster,
    IntensityFree,
    IntensityFreeConfig,
)
from envs.events import (
    DEFAULT_HAWKES,
    DEL_COSTS,
    EventDataset,
    EventForecastEnv,
    HawkesProcess,
    load_event_file,
    make_windows,
    synthetic_hawkes_dataset,
)
from scenarios.plotting import line_with_ci
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.seeding import torch_threads
from scenarios.stats import ci_table, markdown_table, mean_ci

MODELS = ("cdiff", "cdiff_original", "iftpp", "hawkes_mle", "oracle")
METRICS = ("otd", "count_rmse", "dt_rmse", "dt_smape")


@dataclass
class HawkesDataConfig:
    """The synthetic world: a K-type exponential Hawkes process (tick's convention) and split sizes."""

    mu: list[float] = field(default_factory=lambda: list(DEFAULT_HAWKES["mu"]))
    alpha: list[list[float]] = field(default_factory=lambda: [list(r) for r in DEFAULT_HAWKES["alpha"]])
    beta: float = DEFAULT_HAWKES["beta"]
    n_train: int = 400
    n_dev: int = 60
    n_test: int = 100
    min_len: int = 30  # events per sequence, uniform in [min_len, max_len]
    max_len: int = 50


@dataclass
class DataConfig:
    path: str | None = None  # HYPRO pickle, EasyTPP JSON(L), or a directory of them; None: synthetic Hawkes
    hawkes: HawkesDataConfig = field(default_factory=HawkesDataConfig)
    n_shifts: int = 3  # training windows per sequence (target shifted back by 0, 1, 2 events; spec §1)
    max_history: int | None = 32  # most recent history events fed to the models (None: all)
    drop_first_event: bool = False  # the original code's seq[1:] (quirk 7)
    max_sequences: int | None = None  # cap per split for large files (a deterministic subsample)
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.1, 0.2])  # files with one split only


@dataclass
class TPPForecastingConfig:
    data: DataConfig = field(default_factory=DataConfig)
    horizons: list[int] = field(default_factory=lambda: [5, 10, 20])
    n_seeds: int = 5
    models: list[str] = field(default_factory=lambda: ["cdiff", "iftpp", "hawkes_mle", "oracle"])
    n_samples: int = 5  # S samples per forecast (7 in the paper's runs)
    del_costs: list[float] = field(default_factory=lambda: list(DEL_COSTS))
    otd_time_range: float | None = None  # the "with filter" OTD (e.g. 2 for synthetic data at N = 20); None: w/o
    cdiff: CDiffConfig = field(default_factory=lambda: CDiffConfig(
        n_steps=50, train_steps=800, lr=3e-3, batch_size=64, eval_every=200, eval_samples=1))
    iftpp: IntensityFreeConfig = field(default_factory=lambda: IntensityFreeConfig(train_steps=500, eval_every=100))
    hawkes_max_iter: int = 200
    torch_threads: int = 1  # small models: more intra-op threads only contend on a shared CPU (0: torch's default)

    def validate(self) -> None:
        unknown = set(self.models) - set(MODELS)
        if unknown or not self.models:
            raise ValueError(f"models must be a non-empty subset of {list(MODELS)}, got {self.models}")
        if not self.horizons or min(self.horizons) < 1:
            raise ValueError(f"horizons must be positive integers, got {self.horizons}")
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a confidence interval, got {self.n_seeds}")
        if self.n_samples < 1 or not self.del_costs or min(self.del_costs) <= 0:
            raise ValueError("n_samples must be >= 1 and del_costs positive")
        if self.otd_time_range is not None and not self.otd_time_range > 0:
            raise ValueError(f"otd_time_range must be > 0 or null, got {self.otd_time_range}")
        h = self.data.hawkes
        if self.data.path is None:
            HawkesProcess(np.asarray(h.mu), np.asarray(h.alpha), h.beta)  # shape, sign and stability checks
            if min(h.n_train, h.n_dev, h.n_test) < 1 or not 1 <= h.min_len <= h.max_len:
                raise ValueError("data.hawkes: split sizes must be >= 1 and 1 <= min_len <= max_len")
            if h.min_len <= max(self.horizons):
                raise ValueError(f"data.hawkes.min_len ({h.min_len}) must exceed the largest horizon "
                                 f"({max(self.horizons)}) so that every sequence has a history")
        else:  # a malformed file is bad input: fail here, with the loader's message naming file and position
            load_event_file(self.data.path)
        fr = self.data.split_fractions
        if len(fr) != 3 or min(fr) < 0 or not 0.999 < sum(fr) < 1.001:
            raise ValueError(f"data.split_fractions must be three non-negative numbers summing to 1, got {fr}")
        self.cdiff.validate()
        self.iftpp.validate()


# --------------------------------------------------------------------------- data


def load_splits(cfg: DataConfig, seed: int, rng: np.random.Generator) -> tuple[EventDataset, HawkesProcess | None]:
    """train/dev/test sequences: synthetic (new draw per seed) or from ``cfg.path`` (the same for all seeds)."""
    if cfg.path is None:
        h = cfg.hawkes
        process = HawkesProcess(np.asarray(h.mu), np.asarray(h.alpha), h.beta)
        sizes = {"train": h.n_train, "dev": h.n_dev, "test": h.n_test}
        return synthetic_hawkes_dataset(process, sizes, h.min_len, h.max_len, seed), process
    data = load_event_file(cfg.path)
    splits = dict(data.splits)
    if "train" not in splits or "test" not in splits:  # one pool ('all' or partial): split it by fractions
        pool = [s for seqs in splits.values() for s in seqs]
        order = rng.permutation(len(pool))
        a = int(round(cfg.split_fractions[0] * len(pool)))
        b = a + int(round(cfg.split_fractions[1] * len(pool)))
        splits = {"train": [pool[i] for i in order[:a]], "dev": [pool[i] for i in order[a:b]],
                  "test": [pool[i] for i in order[b:]]}
    if not splits.get("dev"):  # carve a dev set out of train (10 %)
        order = rng.permutation(len(splits["train"]))
        cut = max(1, len(order) // 10)
        splits["dev"] = [splits["train"][i] for i in order[:cut]]
        splits["train"] = [splits["train"][i] for i in order[cut:]]
    if cfg.max_sequences:
        splits = {k: [v[i] for i in np.sort(rng.permutation(len(v))[:cfg.max_sequences])] for k, v in splits.items()}
    for name in ("train", "dev", "test"):
        if not splits.get(name):
            raise ValueError(f"{cfg.path}: split '{name}' is empty after splitting")
    return EventDataset(data.n_types, splits, data.source), None


# --------------------------------------------------------------------------- one replicate


def run_replicate(cfg: TPPForecastingConfig, ctx: RunContext, rep: int, seed: int) -> list[dict[str, Any]]:
    data, process = load_splits(cfg.data, seed, np.random.default_rng(seed))
    K, d, rows = data.n_types, cfg.data, []
    models = [m for m in cfg.models if m != "oracle" or process is not None]
    fitted: dict[str, tuple[Forecaster, float]] = {}
    if "hawkes_mle" in models:
        start = time.perf_counter()
        model, info = HawkesForecaster.fit(data["train"], K, max_iter=cfg.hawkes_max_iter, device=ctx.device)
        fitted["hawkes_mle"] = model, time.perf_counter() - start
        ctx.log({"seed": rep, "model": "hawkes_mle", **info})
    if "iftpp" in models:
        start = time.perf_counter()
        model = IntensityFree(K, cfg.iftpp, device=ctx.device)
        model.fit(data["train"], seed=ctx.seeds.seed(f"iftpp/{rep}"), dev=data["dev"],
                  log=lambda r: ctx.log({"seed": rep, "model": "iftpp", **r}))
        fitted["iftpp"] = model, time.perf_counter() - start
    if "oracle" in models:
        fitted["oracle"] = HawkesForecaster(process.mu, process.alpha, process.beta, device=ctx.device), 0.0
    for N in cfg.horizons:
        where = d.path or "synthetic data"
        train = make_windows(data["train"], N, K, n_shifts=d.n_shifts, max_history=d.max_history,
                             drop_first_event=d.drop_first_event, where=f"{where} (train)")
        dev, test = (make_windows(data[s], N, K, max_history=d.max_history, drop_first_event=d.drop_first_event,
                                  where=f"{where} ({s})") for s in ("dev", "test"))
        dev_env, env = (EventForecastEnv(windows=w, del_costs=tuple(cfg.del_costs), time_range=cfg.otd_time_range)
                        for w in (dev, test))
        for name in models:
            fit_s = 0.0
            if name in ("cdiff", "cdiff_original"):
                ccfg = cfg.cdiff.with_original_quirks() if name == "cdiff_original" else cfg.cdiff
                start = time.perf_counter()
                model = CDiff(K, N, ccfg, device=ctx.device)
                tag = {"seed": rep, "model": name, "N": N}
                model.fit(train, seed=ctx.seeds.seed(f"{name}/{rep}/N{N}"), dev=dev,
                          dev_score=lambda dt, k, env_=dev_env: float(env_.evaluate(dt, k)["otd"].mean()),
                          log=lambda r, tag_=tag: ctx.log({**tag_, **r}))
                fit_s = time.perf_counter() - start
            else:
                model, fit_s = fitted[name]
            g = torch.Generator(device=ctx.device).manual_seed(ctx.seeds.seed(f"sample/{name}/{rep}/N{N}"))
            start = time.perf_counter()
            dt, kinds = model.forecast(EventBatch.from_windows(test, ctx.device), N, cfg.n_samples, g)
            sample_s = time.perf_counter() - start
            scores = env.evaluate(dt, kinds)
            row = {"seed": rep, "N": N, "model": name, **{m: float(scores[m].mean()) for m in METRICS},
                   "n_windows": len(test), "fit_s": fit_s, "sample_s": sample_s}
            rows.append(row)
            ctx.log({k: v for k, v in row.items() if not k.endswith("_s")})
    return rows


# --------------------------------------------------------------------------- the scenario


def claim_rows(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Paired (same seed, same test windows) OTD gap IFTPP − CDiff per N, and the claim's verdict."""
    if not {"cdiff", "iftpp"} <= set(frame.model):
        return [], {}
    wide = frame.pivot_table(index=["seed", "N"], columns="model", values="otd").reset_index()
    wide["gap"] = wide["iftpp"] - wide["cdiff"]
    rows, metrics, means = [], {}, {}
    for N, group in wide.groupby("N"):
        mean, half = mean_ci(group["gap"])
        means[int(N)] = mean
        rows.append({"N": int(N), "OTD gap IFTPP − CDiff": f"{mean:.3f} ± {half:.3f}",
                     "seeds with CDiff better": f"{int((group['gap'] > 0).sum())}/{len(group)}"})
        metrics[f"otd_gap_iftpp_minus_cdiff_N{int(N)}"] = mean
        metrics[f"otd_gap_ci95_N{int(N)}"] = half
    ns = sorted(means)
    metrics["claim_cdiff_below_iftpp_at_max_N"] = float(means[ns[-1]] > 0)
    if len(ns) > 1:
        metrics["claim_gap_grows_with_N"] = float(all(means[a] < means[b] for a, b in zip(ns, ns[1:])))
    return rows, metrics


def run(cfg: TPPForecastingConfig, ctx: RunContext) -> ScenarioResult:
    rows: list[dict[str, Any]] = []
    with torch_threads(cfg.torch_threads):
        for rep, seed in enumerate(ctx.progress(ctx.seeds.replicates(cfg.n_seeds), desc="seeds")):
            rows += run_replicate(cfg, ctx, rep, seed)
    frame = pd.DataFrame(rows)
    frame.to_csv(ctx.path("results.csv"), index=False)

    order = {m: i for i, m in enumerate(MODELS)}
    frame = frame.sort_values(["N", "model"], key=lambda c: c.map(order) if c.name == "model" else c)
    table = ci_table(frame, ["N", "model"], [*METRICS, "fit_s"], digits=3)
    gap_rows, claim = claim_rows(frame)
    text = markdown_table(table) + "\n"
    if gap_rows:
        text += ("\nPaired OTD gap (positive: CDiff better), mean ± 95 % CI over seeds:\n\n"
                 + markdown_table(gap_rows) + "\n")
    ctx.path("table.md").write_text(text)

    line_with_ci(frame, "N", "otd", "model", ctx.path("otd_vs_n.png"), xlabel="horizon N (events)",
                 ylabel="OTD (mean over deletion costs)", title="OTD vs horizon (mean ± 95% CI over seeds)")
    frame["otd_per_event"] = frame["otd"] / frame["N"]  # removes the linear growth, shows the gaps
    line_with_ci(frame, "N", "otd_per_event", "model", ctx.path("otd_per_event_vs_n.png"), xlabel="horizon N (events)",
                 ylabel="OTD / N", title="OTD per forecast event vs horizon (mean ± 95% CI over seeds)")
    line_with_ci(frame, "N", "count_rmse", "model", ctx.path("count_rmse_vs_n.png"), xlabel="horizon N (events)",
                 ylabel="RMSE of type counts", title="Type-count RMSE vs horizon (mean ± 95% CI over seeds)")

    metrics: dict[str, float] = dict(claim)
    last = max(cfg.horizons)
    for (N, model), group in frame.groupby(["N", "model"]):
        for m in METRICS:
            metrics[f"{model}_{m}_N{N}"] = float(group[m].mean())
        if N == last:
            metrics[f"{model}_otd_max_N"] = float(group["otd"].mean())
    return ScenarioResult(metrics=metrics, table=table)


PRESETS = {
    "smoke": {
        "horizons": [2, 4], "n_seeds": 2, "n_samples": 2,
        "data": {"hawkes": {"n_train": 30, "n_dev": 6, "n_test": 8, "min_len": 8, "max_len": 12}, "max_history": 8},
        "cdiff": {"n_steps": 4, "train_steps": 4, "batch_size": 16, "d_model": 16, "d_ff": 32, "eval_every": 2},
        "iftpp": {"train_steps": 4, "hidden": 8, "n_components": 2, "eval_every": 2},
        "hawkes_max_iter": 5,
    },
    "cpu": {},
    "paper": {  # the original code's network, T and samples at a paper-like data scale (for a GPU)
        "n_samples": 7,
        "data": {"hawkes": {"n_train": 2000, "n_dev": 200, "n_test": 500, "min_len": 40, "max_len": 80},
                 "max_history": None},
        "cdiff": {"n_steps": 200, "train_steps": 20000, "lr": 5e-4, "batch_size": 256, "eval_every": 1000},
        "iftpp": {"train_steps": 10000, "hidden": 64, "n_components": 64, "lr": 1e-3, "batch_size": 128,
                  "eval_every": 500},
        "hawkes_max_iter": 500,
        "torch_threads": 0,
    },
}

SCENARIO = Scenario(
    name="tpp_forecasting",
    description="CDiff vs IFTPP / Hawkes-MLE / oracle on N-event forecasting of Hawkes streams (OTD, RMSE, sMAPE)",
    config=TPPForecastingConfig,
    run=run,
    presets=PRESETS,
    main_metric="cdiff_otd_max_N",
)
