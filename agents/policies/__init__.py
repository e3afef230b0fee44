"""Offline goal-conditioned policies: Merlin (+ Merlin-P, Merlin-NP) and the GCBC / GCSL / WGCSL baselines.

All six share one network (:class:`GoalConditionedPolicy`), one relabelling sampler
(:class:`RelabelSampler`) and one training step (:meth:`Merlin.update`); see spec ``merlin.md``.

>>> agent = make_agent("merlin", dataset, LearnerConfig(p_her=1.0, test_horizon=1), seed=0)
>>> for _ in range(1000): agent.update()
>>> action = agent.act(obs["observation"], obs["desired_goal"])
"""

from __future__ import annotations

from collections.abc import Callable

from agents.policies.baselines import GCBC, GCSL, WGCSL, WGCSLConfig
from agents.policies.goal_conditioned import GoalConditionedPolicy, HorizonEmbedding, RunningNormaliser
from agents.policies.merlin import LearnerConfig, Merlin
from agents.policies.merlin_np import LatentStitcher, MerlinNP, StitchConfig
from agents.policies.merlin_p import MerlinP, ReverseConfig, ReverseCVAE, ReverseDynamics
from agents.policies.relabel import RelabelSampler, TrajectoryData, offset_probabilities

AGENTS: dict[str, type[Merlin]] = {"merlin": Merlin, "merlin_p": MerlinP, "merlin_np": MerlinNP, "gcsl": GCSL,
                                   "wgcsl": WGCSL, "gcbc": GCBC}


def make_agent(name: str, data: TrajectoryData, config: LearnerConfig | None = None, *,
               stitch: StitchConfig | None = None, wgcsl: WGCSLConfig | None = None,
               reverse: ReverseConfig | None = None, reward_fn: Callable | None = None, seed: int = 0,
               device: str = "cpu") -> Merlin:
    """Build agent `name` (a key of :data:`AGENTS`) on `data`; WGCSL needs the env's ``reward_fn``."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose one of {sorted(AGENTS)}")
    if name == "merlin_p":
        return MerlinP(data, config, reverse, seed=seed, device=device)
    if name == "merlin_np":
        return MerlinNP(data, config, stitch, seed=seed, device=device)
    if name == "wgcsl":
        if reward_fn is None:
            raise ValueError("wgcsl needs reward_fn (the env's compute_reward)")
        return WGCSL(data, config, wgcsl, reward_fn=reward_fn, seed=seed, device=device)
    return AGENTS[name](data, config, seed=seed, device=device)


__all__ = ["AGENTS", "GCBC", "GCSL", "WGCSL", "GoalConditionedPolicy", "HorizonEmbedding", "LatentStitcher",
           "LearnerConfig", "Merlin", "MerlinNP", "MerlinP", "RelabelSampler", "ReverseCVAE", "ReverseConfig",
           "ReverseDynamics", "RunningNormaliser", "StitchConfig",
           "TrajectoryData", "WGCSLConfig", "make_agent", "offset_probabilities"]
