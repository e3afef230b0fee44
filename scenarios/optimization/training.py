"""The optimiser arms of the ``sharpness`` scenario and a device-agnostic supervised training loop.

Every arm is driven the same way: ``opt.zero_grad(set_to_none=True); loss = opt.step(closure)``, where
the closure computes the minibatch loss and calls ``backward()``. SGD calls it once; the SAM family
calls it as many times as it needs passes and returns the loss at the unperturbed weights. With
``bn_stats="first_pass"`` (default) only the closure's first call — the unperturbed pass — updates
BatchNorm running statistics (``agents.optimizers.batchnorm``); ``"all_passes"`` is the official
Lookbehind loop. Both ASAM arms build their groups with the same rule (``OptimConfig.asam_rule``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.optimizers import ASAM_RULES, SAM, Lookahead, Lookbehind, MultistepSAM, asam_param_groups
from agents.optimizers.batchnorm import first_pass_stats_only
from envs.tasks import TaskData, minibatches
from envs.tasks.classify_env import ClassifyEnv
from scenarios.validation import param


ARMS: dict[str, str] = {
    "sgd": "SGD",
    "sam": "SAM",
    "asam": "ASAM",
    "lookahead_sam": "Lookahead-SAM",
    "multistep_sam": "Multistep-SAM",
    "lookbehind_sam": "Lookbehind-SAM",
    "lookbehind_asam": "Lookbehind-ASAM",
    "sam_krho": "SAM (ρ×k)",  # SAM with Lookbehind's total radius kρ: "simply enlarging ρ hurts"
}
DEFAULT_ARMS = list(ARMS)[:7]


@dataclass
class OptimConfig:
    """Hyper-parameters of the arms (the base optimiser is SGD with the ``train`` lr/momentum/decay)."""

    arms: list[str] = param(list(DEFAULT_ARMS), choices=tuple(ARMS), nonempty=True)
    sam_rho: float = param(0.05, ge=0, le=100)  # SAM, Lookahead-SAM, Multistep-SAM, Lookbehind-SAM
    asam_rho: float = param(0.5, ge=0, le=100)  # ASAM, Lookbehind-ASAM (official Lookbehind-ASAM command: --rho 0.5)
    asam_eta: float = param(0.0, ge=0, le=100)  # ASAM η (the Lookbehind example script's default)
    # which tensors ASAM rescales, for both ASAM arms: official = names containing "weight" (T = |w| + η),
    # T = 1 for the rest (SamsungLabs ASAM / Lookbehind-ASAM code); all = every tensor (davda54/sam)
    asam_rule: str = param("official", choices=ASAM_RULES)
    k: int = param(2, ge=1, le=1000)  # Lookbehind and Multistep-SAM steps (released default k = 2)
    alpha: float = param(-1.0, ge=-1, le=1)  # Lookbehind α; -1 = adaptive (official --alpha -1)
    # adaptive α: per_tensor (official code) | global
    alpha_mode: str = param("per_tensor", choices=("per_tensor", "global"))
    lookahead_k: int = param(5, ge=1, le=10_000)  # Lookahead-SAM sync period (Zhang et al. default)
    lookahead_alpha: float = param(0.5, gt=0, le=1)  # Lookahead-SAM slow step (Zhang et al. default)


def passes_per_update(arm: str, o: OptimConfig) -> int:
    """Forward–backward passes per minibatch update (for compute-normalised reading)."""
    return {"sgd": 1, "multistep_sam": o.k + 1, "lookbehind_sam": 2 * o.k, "lookbehind_asam": 2 * o.k}.get(arm, 2)


def build_optimizer(arm: str, model: nn.Module, o: OptimConfig, lr: float, momentum: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    """The optimiser of one arm over ``model``'s parameters (SGD base with the given lr, momentum, weight
    decay); the ASAM arms split the parameters by name with ``o.asam_rule``."""
    params = list(model.parameters())
    sgd, base = torch.optim.SGD, dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    lb = dict(k=o.k, alpha=o.alpha, alpha_mode=o.alpha_mode)
    asam = dict(rho=o.asam_rho, adaptive=True, eta=o.asam_eta)

    def asam_groups() -> list[dict]:
        return asam_param_groups(model.named_parameters(), o.asam_rule)

    builders: dict[str, Callable[[], torch.optim.Optimizer]] = {
        "sgd": lambda: sgd(params, **base),
        "sam": lambda: SAM(params, sgd, rho=o.sam_rho, **base),
        "asam": lambda: SAM(asam_groups(), sgd, **asam, **base),
        "lookahead_sam": lambda: Lookahead(SAM(params, sgd, rho=o.sam_rho, **base), o.lookahead_k, o.lookahead_alpha),
        "multistep_sam": lambda: MultistepSAM(params, sgd, rho=o.sam_rho, k=o.k, **base),
        "lookbehind_sam": lambda: Lookbehind(params, sgd, rho=o.sam_rho, **lb, **base),
        "lookbehind_asam": lambda: Lookbehind(asam_groups(), sgd, **asam, **lb, **base),
        "sam_krho": lambda: SAM(params, sgd, rho=o.k * o.sam_rho, **base),
    }
    if arm not in builders:
        raise ValueError(f"unknown arm {arm!r}; choose from {list(builders)}")
    return builders[arm]()


@contextmanager
def evaluation_weights(opt: torch.optim.Optimizer) -> Iterator[None]:
    """Evaluate on the slow weights (Lookahead keeps fast weights live between synchronisations)."""
    with opt.slow_weights() if isinstance(opt, Lookahead) else nullcontext():
        yield


def class_mask(classes: tuple[int, ...], n_classes: int, device: str) -> torch.Tensor:
    """Additive logit mask: 0 for the task's classes, −inf elsewhere (task-aware heads)."""
    mask = torch.full((n_classes,), float("-inf"), device=device)
    mask[list(classes)] = 0.0
    return mask


BN_STATS = ("first_pass", "all_passes")


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                rng: np.random.Generator, mask: torch.Tensor | None = None, bn_stats: str = "first_pass") -> float:
    """One shuffled pass over (x, y); returns the mean minibatch loss at the (unperturbed) weights.

    ``bn_stats``: ``"first_pass"`` — BatchNorm running stats come from the unperturbed pass only (davda54);
    ``"all_passes"`` — every pass of the SAM family updates them (the official Lookbehind loop).
    """
    if bn_stats not in BN_STATS:
        raise ValueError(f"bn_stats must be one of {BN_STATS}, got {bn_stats!r}")
    model.train()
    total = torch.zeros((), device=x.device)
    for idx in minibatches(len(x), batch_size, rng):
        ib = torch.as_tensor(idx, device=x.device)
        xb, yb = x[ib], y[ib]

        def closure() -> torch.Tensor:
            logits = model(xb)
            loss = F.cross_entropy(logits if mask is None else logits + mask, yb)
            loss.backward()
            return loss

        opt.zero_grad(set_to_none=True)  # no gradients: the first closure call is the unperturbed pass
        loss = opt.step(first_pass_stats_only(model, closure) if bn_stats == "first_pass" else closure)
        total += loss.detach() * len(idx)
    return total.item() / len(x)


@torch.no_grad()
def env_accuracy(model: nn.Module, task: TaskData, split: str, seed: int, device: str,
                 mask: torch.Tensor | None = None, episode_length: int | None = None) -> float:
    """Accuracy as the mean reward of one episode of :class:`ClassifyEnv` over ``split``."""
    env = ClassifyEnv(split=split, tasks=[task], episode_length=episode_length)
    obs, _ = env.reset(seed=seed)
    model.eval()
    rewards, done = [], False
    while not done:
        logits = model(torch.as_tensor(obs, device=device)[None])[0]
        action = int((logits if mask is None else logits + mask).argmax())
        obs, reward, done, _, _ = env.step(action)
        rewards.append(reward)
    env.close()
    return float(np.mean(rewards))


@torch.no_grad()
def masked_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> float:
    model.eval()
    logits = torch.cat([model(c) for c in x.split(1024)])
    return (((logits if mask is None else logits + mask).argmax(1)) == y).float().mean().item()


def forgetting_metrics(acc: np.ndarray) -> dict[str, float]:
    """From R[i, j] = accuracy on task j after learning task i (T × T).

    average accuracy = mean_j R[T−1, j];  learning accuracy = mean_j R[j, j];
    forgetting = mean_{j<T−1} (max_{j≤i<T−1} R[i, j] − R[T−1, j])   (Chaudhry et al. 2018).
    """
    t = acc.shape[0]
    final = acc[-1]
    forgetting = [acc[j:t - 1, j].max() - final[j] for j in range(t - 1)]
    return {"average_accuracy": float(final.mean()), "learning_accuracy": float(np.diag(acc).mean()),
            "forgetting": float(np.mean(forgetting)) if forgetting else 0.0}
