"""Named scenarios: a typed config with presets and a ``run(cfg, ctx)`` that wires envs to agents.

Scenarios are registered lazily (name → module): a scenario's module is imported only when it is
used, so a missing optional dependency of one scenario does not take down the others. A scenario module defines ``SCENARIO``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scenarios.errors import UsageError

PRESETS = ("smoke", "cpu", "paper")

# name -> module defining SCENARIO. Add a line here when you add a scenario.
SCENARIO_MODULES: dict[str, str] = {
    "misinformation_single_round": "scenarios.persuasion.single_round",
    "misinformation_performative": "scenarios.persuasion.performative",
    "nested_sampling": "scenarios.inference.nested_sampling",
    "goal_reaching": "scenarios.goals.goal_reaching",
    "sharpness": "scenarios.optimization.sharpness",
    "image_text_pretraining": "scenarios.media.image_text_pretraining",
    "tpp_forecasting": "scenarios.events.tpp_forecasting",
}


@dataclass(frozen=True)
class ScenarioResult:
    """What a scenario's run returns: flat scalar metrics (the sweep's columns) and a results table."""

    metrics: dict[str, float]
    table: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    """A named experiment.

    Attributes:
        name: the CLI name.
        description: one line for ``--list``.
        config: the dataclass type of the scenario's config; its defaults are the ``cpu`` preset.
        run: ``run(cfg, ctx) -> ScenarioResult``; ``ctx`` is a :class:`scenarios.rundir.RunContext`.
        presets: preset name → nested dict of overrides applied over the dataclass defaults.
        main_metric: the metric a sweep plots against its first grid key.
    """

    name: str
    description: str
    config: type
    run: Callable[[Any, Any], ScenarioResult]
    presets: Mapping[str, Mapping[str, Any]]
    main_metric: str


def scenario_names() -> list[str]:
    return sorted(SCENARIO_MODULES)


def get_scenario(name: str) -> Scenario:
    """Import and return the scenario called `name` (UsageError naming the valid choices otherwise)."""
    if name not in SCENARIO_MODULES:
        raise UsageError(f"unknown scenario '{name}'; choose one of: {', '.join(scenario_names())}")
    scenario = importlib.import_module(SCENARIO_MODULES[name]).SCENARIO
    missing = set(PRESETS) - set(scenario.presets)
    if missing:  # a programming error in the scenario module, not bad user input
        raise RuntimeError(f"scenario '{name}' lacks presets {sorted(missing)}")
    return scenario
