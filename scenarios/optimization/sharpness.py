"""``sharpness``: SGD vs the SAM family (SAM, ASAM, Lookahead-SAM, Multistep-SAM, Lookbehind-SAM/ASAM).

Per optimiser arm and replicate seed (same initial weights and minibatch order for every arm):

1. train a small CNN on digits (``cpu``) or a CIFAR-style ResNet on a synthetic CIFAR-shaped set
   (``paper``), evaluating on the slow weights;
2. test accuracy (batched, and one episode of ``recast/DigitsClassify-v0`` as a check), training loss,
   sharpness = worst loss increase in an L2 ball of radius ``probes.sharpness_rho`` and the top Hessian
   eigenvalue λ_max (both on ``probes.examples`` training images), and accuracy under multiplicative
   Gaussian weight noise w ⊙ (1 + σξ) for each σ (mean over ``probes.noise_draws`` draws);
3. lifelong: a fresh model learns the split-digits (or permuted) task sequence; average accuracy,
   learning accuracy and forgetting (Chaudhry et al. 2018).

Claim under test (Mordido et al., ICML 2024): Lookbehind at least matches SAM/ASAM in accuracy with
lower sharpness, better weight-noise robustness and less forgetting. Lookbehind costs 2k passes per
update (column ``passes``); the default comparison is per update (same epochs), and
``train.equal_compute=true`` gives every arm the same number of forward–backward passes instead.
With SGD, Lookbehind's update is −αη Σ_i g_i over k gradients: at the same nominal lr its step is
≈ αk times SGD's/SAM's, which matters for a BN-free network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from agents.optimizers.probes import hessian_top_eigenvalue, rho_ball_sharpness, weight_noise_accuracy
from agents.perception.convnets import MODELS, build_model
from envs.tasks import SOURCES, TaskData, make_tasks
from scenarios.optimization.training import (
    ARMS,
    BN_STATS,
    OptimConfig,
    build_optimizer,
    class_mask,
    env_accuracy,
    evaluation_weights,
    forgetting_metrics,
    masked_accuracy,
    passes_per_update,
    train_epoch,
)
from scenarios.claims import Better, Claim
from scenarios.plotting import line_with_ci, save
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.seeding import torch_threads
from scenarios.stats import aggregate, ci_table, markdown_table
from scenarios.validation import param

SCHEDULES = ("constant", "cosine", "multistep")


@dataclass
class DataConfig:
    source: str = param("digits", choices=("digits", "synthetic_cifar"))  # digits | synthetic_cifar
    val_fraction: float = param(0.15, ge=0, lt=1)
    test_fraction: float = param(0.25, gt=0, lt=1)
    label_noise: float = param(0.0, ge=0, le=1)  # symmetric noise on the training labels
    n_synthetic: int = param(20_000, ge=10, le=10_000_000)  # synthetic_cifar only: images in total


@dataclass
class ModelConfig:
    name: str = param("small_cnn", choices=tuple(MODELS))  # small_cnn | resnet18 | resnet34 | resnet50
    width: int = param(0, ge=0, le=4096)  # 0: the model's default (16 for small_cnn, 64 for the ResNets)


@dataclass
class TrainConfig:
    epochs: int = param(20, ge=1, le=100_000)
    batch_size: int = param(64, ge=1, le=1_000_000)
    # at 0.05 Lookbehind-ASAM diverged in 1 of 5 seeds on this BN-free CNN (see docs/sharpness.md)
    lr: float = param(0.02, gt=0, le=10)
    momentum: float = param(0.9, ge=0, lt=1)
    weight_decay: float = param(5e-4, ge=0, le=1)
    schedule: str = param("cosine", choices=SCHEDULES)  # constant | cosine | multistep (per epoch)
    milestones: list[int] = param([50, 100, 150], ge=0, le=1_000_000)  # multistep only
    gamma: float = param(0.1, gt=0, le=1)
    equal_compute: bool = False  # give each arm epochs × (max passes over arms / its passes): equal gradient passes
    # BatchNorm running stats: from the unperturbed pass only (davda54) | every pass (official Lookbehind loop)
    bn_stats: str = param("first_pass", choices=BN_STATS)


@dataclass
class ProbeConfig:
    examples: int = param(512, ge=1, le=1_000_000)  # training images for the sharpness probes
    sharpness_rho: float = param(0.1, ge=0, le=100)  # L2 radius of the worst-case probe (= k·ρ_SAM for k = 2)
    sharpness_steps: int = param(5, ge=0, le=10_000)
    hessian_iters: int = param(20, ge=1, le=10_000)
    noise_sigmas: list[float] = param([0.0, 0.1, 0.2, 0.3, 0.4], ge=0, le=10, nonempty=True)
    noise_draws: int = param(10, ge=1, le=10_000)
    # test examples for the env-episode accuracy check (0: the whole split)
    env_examples: int = param(0, ge=0, le=10_000_000)


@dataclass
class LifelongConfig:
    enabled: bool = True
    stream: str = param("split", choices=("split", "permuted"))  # split (5 tasks × 2 classes) | permuted
    n_tasks: int = param(5, ge=1, le=100)
    epochs: int = param(5, ge=1, le=100_000)  # per task, constant lr = train.lr
    task_aware: bool = True  # split stream: logits restricted to the task's classes


@dataclass
class SharpnessConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    probes: ProbeConfig = field(default_factory=ProbeConfig)
    lifelong: LifelongConfig = field(default_factory=LifelongConfig)
    n_seeds: int = param(5, ge=1, le=10_000)
    torch_threads: int = param(1, ge=0, le=1024)  # CPU threads during the run (0: leave torch's setting)

    def validate(self) -> None:
        bad = [a for a in self.optim.arms if a not in ARMS]
        if bad or not self.optim.arms:
            raise ValueError(f"optim.arms must be a non-empty subset of {list(ARMS)}, got {self.optim.arms}")
        checks = [
            (self.n_seeds >= 2, f"n_seeds must be >= 2 for a confidence interval, got {self.n_seeds}"),
            (self.data.source in SOURCES, f"data.source must be one of {SOURCES}"),
            (self.model.name in MODELS, f"model.name must be one of {MODELS}"),
            (self.train.schedule in SCHEDULES, f"train.schedule must be one of {SCHEDULES}"),
            (self.train.epochs >= 1 and self.train.batch_size >= 1, "train.epochs and train.batch_size must be >= 1"),
            (self.optim.k >= 1 and self.optim.lookahead_k >= 1, "optim.k and optim.lookahead_k must be >= 1"),
            (self.optim.alpha == -1 or 0 <= self.optim.alpha <= 1, "optim.alpha must be in [0, 1] or -1 (adaptive)"),
            (self.optim.alpha_mode in ("per_tensor", "global"), "optim.alpha_mode must be per_tensor or global"),
            (min(self.probes.noise_sigmas, default=-1) >= 0, "probes.noise_sigmas must be a non-empty list >= 0"),
            (self.probes.examples >= 1 and self.probes.noise_draws >= 1, "probes.examples, noise_draws must be >= 1"),
            (self.lifelong.stream in ("split", "permuted"), "lifelong.stream must be split or permuted"),
            (self.lifelong.n_tasks >= 2 and self.lifelong.epochs >= 1, "lifelong needs n_tasks >= 2, epochs >= 1"),
            (0.0 <= self.data.label_noise <= 1.0, "data.label_noise must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def _tensors(task: TaskData, device: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {s: (torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))
            for s in ("train", "val", "test") for x, y in [task.split(s)]}


def _scheduler(opt: torch.optim.Optimizer, t: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler | None:
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t.epochs)
    if t.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=t.milestones, gamma=t.gamma)
    return None


def _model(cfg: SharpnessConfig, task: TaskData, seed: int, device: str) -> torch.nn.Module:
    torch.manual_seed(seed)  # the same initial weights for every arm of a replicate
    c, _, size = task.image_shape
    return build_model(cfg.model.name, c, task.n_classes, size, cfg.model.width or None).to(device)


def train_and_probe(cfg: SharpnessConfig, ctx: RunContext, arm: str, rep: int, seed: int, task: TaskData,
                    data: dict) -> tuple[dict[str, float], list[float]]:
    """Train one arm on the single task, then probe it; returns (metrics, noise accuracies per σ)."""
    t, p, device = cfg.train, cfg.probes, ctx.device
    model = _model(cfg, task, seed, device)
    opt = build_optimizer(arm, model, cfg.optim, t.lr, t.momentum, t.weight_decay)
    epochs = t.epochs
    if t.equal_compute:
        most = max(passes_per_update(a, cfg.optim) for a in cfg.optim.arms)
        epochs = max(1, round(t.epochs * most / passes_per_update(arm, cfg.optim)))
    sched, rng = _scheduler(opt, replace(t, epochs=epochs)), np.random.default_rng(seed)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data["train"], data["val"], data["test"]
    loss = math.nan
    for epoch in range(epochs):
        loss = train_epoch(model, opt, x_tr, y_tr, t.batch_size, rng, bn_stats=t.bn_stats)
        if sched is not None:
            sched.step()
        with evaluation_weights(opt):
            val = masked_accuracy(model, x_va, y_va, None) if len(x_va) else math.nan
        ctx.log({"phase": "train", "arm": arm, "seed": rep, "epoch": epoch + 1, "train_loss": loss, "val_acc": val})
    gen = torch.Generator().manual_seed(seed)
    x_pr, y_pr = x_tr[: p.examples], y_tr[: p.examples]
    with evaluation_weights(opt):
        test_acc = masked_accuracy(model, x_te, y_te, None)
        env_acc = env_accuracy(model, task, "test", seed, device, episode_length=p.env_examples or None)
        sharp = rho_ball_sharpness(model, x_pr, y_pr, p.sharpness_rho, p.sharpness_steps)
        lam = hessian_top_eigenvalue(model, x_pr, y_pr, p.hessian_iters, gen)
        noise = weight_noise_accuracy(model, x_te, y_te, p.noise_sigmas, p.noise_draws, gen)
    out = {"test_acc": test_acc, "env_test_acc": env_acc, "train_loss": loss, "probe_loss": sharp["loss"],
           "sharpness": sharp["sharpness"], "hessian_max": lam,
           "noise_acc_mean": float(np.mean([a for s, a in zip(p.noise_sigmas, noise) if s > 0] or [math.nan]))}
    return out, noise


def lifelong(cfg: SharpnessConfig, ctx: RunContext, arm: str, rep: int, seed: int, tasks: list[TaskData],
             data: list[dict]) -> tuple[dict[str, float], list[dict]]:
    """Sequential training on the task stream; returns forgetting metrics and the per-task curve."""
    t, life, device = cfg.train, cfg.lifelong, ctx.device
    model = _model(cfg, tasks[0], seed, device)
    opt = build_optimizer(arm, model, cfg.optim, t.lr, t.momentum, t.weight_decay)
    rng = np.random.default_rng([seed, 1])
    aware = life.stream == "split" and life.task_aware
    masks = [class_mask(tk.classes, tk.n_classes, device) if aware else None for tk in tasks]
    acc = np.zeros((len(tasks), len(tasks)))
    curve = []
    for i in range(len(tasks)):
        x, y = data[i]["train"]
        for _ in range(life.epochs):
            train_epoch(model, opt, x, y, t.batch_size, rng, masks[i], bn_stats=t.bn_stats)
        with evaluation_weights(opt):
            for j in range(len(tasks)):
                acc[i, j] = masked_accuracy(model, *data[j]["test"], masks[j])
        ctx.log({"phase": "lifelong", "arm": arm, "seed": rep, "task": i, "accuracy": acc[i].tolist()})
        curve.append({"optimizer": ARMS[arm], "seed": rep, "tasks learned": i + 1,
                      "accuracy on task 1": acc[i, 0], "mean accuracy on seen tasks": acc[i, : i + 1].mean()})
    return {f"lifelong_{k}": v for k, v in forgetting_metrics(acc).items()}, curve


COLUMNS = {"test_acc": "test acc", "train_loss": "train loss", "sharpness": "ρ-sharpness", "hessian_max": "λ_max",
           "noise_acc_mean": "noisy acc (mean σ>0)", "lifelong_average_accuracy": "LL avg acc",
           "lifelong_forgetting": "LL forgetting"}


def run(cfg: SharpnessConfig, ctx: RunContext) -> ScenarioResult:
    with torch_threads(cfg.torch_threads if ctx.device == "cpu" else 0):
        return _run(cfg, ctx)


def _run(cfg: SharpnessConfig, ctx: RunContext) -> ScenarioResult:
    d, device = cfg.data, ctx.device
    data_seed = ctx.seeds.seed("data")
    kw = dict(seed=data_seed, val_fraction=d.val_fraction, test_fraction=d.test_fraction,
              label_noise=d.label_noise, n_synthetic=d.n_synthetic)
    task = make_tasks(d.source, None, **kw)[0]
    data = _tensors(task, device)
    stream = make_tasks(d.source, cfg.lifelong.stream, cfg.lifelong.n_tasks, **kw) if cfg.lifelong.enabled else []
    stream_data = [_tensors(tk, device) for tk in stream]

    rows, noise_rows, curves = [], [], []
    jobs = [(rep, seed, arm) for rep, seed in enumerate(ctx.seeds.replicates(cfg.n_seeds)) for arm in cfg.optim.arms]
    for rep, seed, arm in ctx.progress(jobs, desc="sharpness"):
        metrics, noise = train_and_probe(cfg, ctx, arm, rep, seed, task, data)
        row = {"optimizer": ARMS[arm], "arm": arm, "seed": rep, "passes": passes_per_update(arm, cfg.optim), **metrics}
        noise_rows += [{"optimizer": ARMS[arm], "seed": rep, "sigma": s, "accuracy": a}
                       for s, a in zip(cfg.probes.noise_sigmas, noise)]
        row.update({f"noise_acc_{s:g}": a for s, a in zip(cfg.probes.noise_sigmas, noise)})
        if stream:
            life, curve = lifelong(cfg, ctx, arm, rep, seed, stream, stream_data)
            row.update(life)
            curves += curve
        ctx.log({"phase": "result", **row})
        rows.append(row)
    df, noise_df, curve_df = pd.DataFrame(rows), pd.DataFrame(noise_rows), pd.DataFrame(curves)
    df.to_csv(ctx.path("results.csv"), index=False)
    noise_df.to_csv(ctx.path("noise.csv"), index=False)

    table = _table(cfg, df)
    note = (f"\nmean ± 95 % CI over {cfg.n_seeds} seeds; train loss: mean minibatch loss of the last epoch; "
            f"ρ-sharpness: max loss increase in an L2 ball of radius "
            f"{cfg.probes.sharpness_rho:g} ({cfg.probes.sharpness_steps} ascent steps, {cfg.probes.examples} train "
            f"images); noisy acc: w ⊙ (1 + σξ), σ ∈ {[s for s in cfg.probes.noise_sigmas if s > 0]}, "
            f"{cfg.probes.noise_draws} draws"
            + (f"; LL: {cfg.lifelong.stream} stream, {cfg.lifelong.n_tasks} tasks" if cfg.lifelong.enabled else "")
            + f".\n{_conventions(cfg)}\n")
    ctx.path("table.md").write_text(markdown_table(table) + "\n" + note)

    line_with_ci(noise_df, "sigma", "accuracy", "optimizer", ctx.path("noise_robustness.png"),
                 xlabel="multiplicative weight-noise scale σ", ylabel="test accuracy",
                 title="Accuracy under weight noise w ⊙ (1 + σξ) (± 95% CI)")
    _loss_vs_sharpness(df, ctx)
    if len(curve_df):
        curve_df.to_csv(ctx.path("lifelong.csv"), index=False)
        long = curve_df.melt(["optimizer", "seed", "tasks learned"], var_name="curve", value_name="accuracy")
        line_with_ci(long, "tasks learned", "accuracy", "optimizer", ctx.path("forgetting.png"), facet="curve",
                     title=f"Lifelong {cfg.lifelong.stream} stream: forgetting (mean ± 95% CI)")
    return ScenarioResult(metrics=_metrics(df), table=table)


def _conventions(cfg: SharpnessConfig) -> str:
    """The ASAM rule (the same for both ASAM arms) and the BatchNorm convention, for the table's note."""
    o = cfg.optim
    rule = ("T = |w| + η for tensors named *weight*, T = 1 for biases (official SamsungLabs/Lookbehind rule)"
            if o.asam_rule == "official" else "T = |w| + η for every tensor (davda54/sam rule)")
    bn = ("running stats from the unperturbed pass only" if cfg.train.bn_stats == "first_pass"
          else "running stats updated by every pass")
    return (f"ASAM and Lookbehind-ASAM: asam_rule={o.asam_rule}, {rule}, ρ = {o.asam_rho:g}, η = {o.asam_eta:g}; "
            f"BatchNorm ({cfg.model.name}): {bn} (bn_stats={cfg.train.bn_stats}).")


def _table(cfg: SharpnessConfig, df: pd.DataFrame) -> list[dict]:
    noise_cols = [f"noise_acc_{s:g}" for s in cfg.probes.noise_sigmas if s > 0]
    cols = [c for c in [*COLUMNS, *noise_cols] if c in df.columns and c != "noise_acc_mean"]
    cols.insert(cols.index("hessian_max") + 1, "noise_acc_mean")
    table = ci_table(df, ["optimizer"], cols, digits=4)
    names = {**COLUMNS, **{c: f"acc σ={c.rsplit('_', 1)[1]}" for c in noise_cols}}
    passes = df.groupby("optimizer", sort=False)["passes"].first()
    return [{"optimizer": r["optimizer"], "n": r["n"], "passes": int(passes[r["optimizer"]]),
             **{names[c]: r[c] for c in cols}} for r in table]


def _metrics(df: pd.DataFrame) -> dict[str, float]:
    keys = ["test_acc", "env_test_acc", "train_loss", "sharpness", "hessian_max", "noise_acc_mean",
            *[c for c in df.columns if c.startswith(("noise_acc_", "lifelong_")) and c != "noise_acc_mean"]]
    means = df.groupby("arm", sort=False)[keys].mean()
    metrics = {f"{arm}_{k}": float(v) for arm, row in means.iterrows() for k, v in row.items()}
    for lb, base in [("lookbehind_sam", "sam"), ("lookbehind_asam", "asam")]:
        if lb in means.index and base in means.index:
            for k in ("test_acc", "sharpness", "hessian_max", "noise_acc_mean", "lifelong_forgetting"):
                if k in means.columns:
                    metrics[f"{lb}_minus_{base}_{k}"] = float(means.loc[lb, k] - means.loc[base, k])
    return metrics


def _loss_vs_sharpness(df: pd.DataFrame, ctx: RunContext) -> None:
    agg = aggregate(df, ["optimizer"], ["train_loss", "sharpness"])
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for _, r in agg.iterrows():
        ax.errorbar(r["sharpness_mean"], r["train_loss_mean"], xerr=r["sharpness_ci95"], yerr=r["train_loss_ci95"],
                    fmt="o", capsize=3, label=r["optimizer"])
    ax.set(xlabel="ρ-sharpness (worst loss increase)", ylabel="training loss (last epoch)",
           title="Loss vs sharpness (mean ± 95% CI)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    save(fig, ctx.path("loss_vs_sharpness.png"))


PRESETS = {
    "smoke": {"n_seeds": 2, "train": {"epochs": 1, "batch_size": 128},
              "probes": {"examples": 64, "sharpness_steps": 2, "hessian_iters": 2, "noise_sigmas": [0.0, 0.3],
                         "noise_draws": 1},
              "lifelong": {"epochs": 1, "n_tasks": 2}},
    "cpu": {},
    "paper": {"data": {"source": "synthetic_cifar", "n_synthetic": 60_000, "val_fraction": 1 / 12,
                       "test_fraction": 1 / 6},
              "model": {"name": "resnet34"},
              "train": {"epochs": 200, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
                        "schedule": "multistep", "milestones": [50, 100, 150], "gamma": 0.1},
              "probes": {"examples": 1024, "sharpness_rho": 0.1, "noise_sigmas": [0.0, 0.05, 0.1, 0.2, 0.3],
                         "noise_draws": 10, "env_examples": 500},
              "lifelong": {"epochs": 10},
              "torch_threads": 0},
}

CLAIM = Claim(
    statement="Lookbehind-SAM at least matches SAM's accuracy at lower sharpness (per update, same epochs)",
    source="Mordido et al., ICML 2024",
    rules=(Better("sharpness", "lookbehind_sam", "sam", key="arm", higher_is_better=False),
           Better("test_acc", "lookbehind_sam", "sam", key="arm", margin=-0.005)),
    chance={"test acc": "0.10 (10 balanced digit classes)"},
)

SCENARIO = Scenario(
    name="sharpness",
    description="SGD vs SAM/ASAM/Lookahead-SAM/Multistep-SAM/Lookbehind: accuracy, sharpness, weight noise, forgetting",
    config=SharpnessConfig,
    run=run,
    presets=PRESETS,
    main_metric="lookbehind_sam_test_acc",
    claim=CLAIM,
)
