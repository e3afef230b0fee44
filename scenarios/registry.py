"""Named scenarios: a typed config with presets and a ``run(cfg, ctx)`` that wires envs to agents.

Scenarios are registered lazily (name → module): a scenario's module is imported only when it is
used, so a missing optional dependency of one scenario does not take down the others. A scenario module defines ``SCENARIO``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scenarios.errors import UsageError

PRESETS = ("smoke", "cpu", "paper")
EXTRA_SCENARIOS_ENV = "RECAST_SCENARIOS"
# top-level package → the project's extra that installs it (for the one-line error when it is missing)
OPTIONAL_EXTRAS = {"dynesty": "sampling", "ultranest": "sampling", "nautilus": "sampling", "ale_py": "atari",
                   "gymnasium_robotics": "robotics", "mujoco": "robotics", "ray": "ray", "tensorboard": "tracking",
                   "mlflow": "tracking", "minatar": "atari",
                   "captum": "audio", "espeakng_loader": "audio", "soundfile": "audio"}  # "name=package.module,name2=pkg.mod2": a user's own scenarios

# name -> module defining SCENARIO. Add a line here when you add a scenario.
SCENARIO_MODULES: dict[str, str] = {
    "misinformation_single_round": "scenarios.persuasion.single_round",
    "misinformation_performative": "scenarios.persuasion.performative",
    "nested_sampling": "scenarios.inference.nested_sampling",
    "goal_reaching": "scenarios.goals.goal_reaching",
    "sharpness": "scenarios.optimization.sharpness",
    "image_text_pretraining": "scenarios.media.image_text_pretraining",
    "video_localization": "scenarios.media.video_localization",
    "caption_diversity": "scenarios.media.caption_diversity",
    "tpp_forecasting": "scenarios.events.tpp_forecasting",
    "audio_explanations": "scenarios.audio.audio_explanations",
    "neural_processes": "scenarios.meta.neural_processes",
    "atari_tokens": "scenarios.atari.atari_tokens",
    "meta_ocl": "scenarios.language.meta_ocl",
    "meta_ocl_vision": "scenarios.language.meta_ocl_vision",
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
        presets: preset name → nested dict of overrides applied over the dataclass defaults: smoke, cpu and
            paper always, plus any named presets of the scenario's own (e.g. ``taobao``).
        main_metric: the metric a sweep plots against its first grid key.
        claim: the paper's claim and its verdict rule (:class:`scenarios.claims.Claim`), for the report.
    """

    name: str
    description: str
    config: type
    run: Callable[[Any, Any], ScenarioResult]
    presets: Mapping[str, Mapping[str, Any]]
    main_metric: str
    claim: Any = None


def scenario_modules() -> dict[str, str]:
    """The built-in scenarios plus the user's own, named in ``$RECAST_SCENARIOS`` (``name=module,...``).

    The environment variable reaches every process of a sweep (pool workers, Ray tasks on this node),
    so a user's scenario runs, sweeps and resumes like the built-in ones without editing this file.
    """
    modules = dict(SCENARIO_MODULES)
    for item in filter(None, (part.strip() for part in os.environ.get(EXTRA_SCENARIOS_ENV, "").split(","))):
        name, sep, module = item.partition("=")
        if not sep or not name.strip() or not module.strip():
            raise UsageError(f"bad ${EXTRA_SCENARIOS_ENV} entry '{item}': expected name=package.module")
        modules[name.strip()] = module.strip()
    return modules


def scenario_names() -> list[str]:
    return sorted(scenario_modules())


def scenario_description(name: str) -> str:
    """The scenario's one-line description, read from its module's source without importing it.

    ``--list`` uses this, so listing never pays for torch or an optional extra. Falls back to
    importing when the description is not a string literal in ``SCENARIO = Scenario(...)``.
    """
    module = scenario_modules()[name]
    try:
        spec = importlib.util.find_spec(module)
        tree = ast.parse(open(spec.origin, encoding="utf-8").read()) if spec and spec.origin else None
    except (ImportError, OSError, SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Scenario":
            for kw in node.keywords:
                if kw.arg == "description" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    try:
        return get_scenario(name).description
    except ImportError as err:  # an optional extra of that scenario is not installed
        return f"(unavailable: {err})"


def get_scenario(name: str) -> Scenario:
    """Import and return the scenario called `name` (UsageError naming the valid choices otherwise)."""
    modules = scenario_modules()
    if name not in modules:
        raise UsageError(f"unknown scenario '{name}'; choose one of: {', '.join(sorted(modules))}")
    try:
        scenario = importlib.import_module(modules[name]).SCENARIO
    except ModuleNotFoundError as err:
        if err.name and modules[name].startswith(err.name):  # the scenario module itself is missing
            raise UsageError(f"scenario '{name}': cannot import {modules[name]} ({err})") from None
        extra = OPTIONAL_EXTRAS.get((err.name or "").split(".")[0])
        hint = f"pip install -e '.[{extra}]'" if extra else f"pip install {err.name}"
        raise UsageError(f"scenario '{name}' needs the optional package '{err.name}': {hint}") from None
    missing = set(PRESETS) - set(scenario.presets)
    if missing:  # a programming error in the scenario module, not bad user input
        raise RuntimeError(f"scenario '{name}' lacks presets {sorted(missing)}")
    return scenario
