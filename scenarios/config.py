"""Typed configs: dataclass defaults ← preset ← ``key=value`` overrides, validated by OmegaConf."""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from scenarios.errors import UsageError
from scenarios.registry import PRESETS, Scenario
from scenarios.validation import check_config, leaf_fields


def build_config(scenario: Scenario, preset: str = "cpu", overrides: list[str] | tuple[str, ...] = (),
                 *, resolved: dict[str, Any] | None = None) -> Any:
    """Resolve a scenario's config: an instance of ``scenario.config``.

    ``resolved`` (a saved config.yaml, for ``--resume``) replaces the preset as the base of the overrides.
    Declared field ranges (:mod:`scenarios.validation`) and the scenario's ``validate()`` are checked.
    Overrides are dotted ``key=value`` strings (``game.engagement_weight=0.2``, ``accuracies=[0.6,0.9]``);
    OmegaConf's structured configs reject unknown keys and values of the wrong type.
    Raises UsageError with one line naming the problem.
    """
    if preset not in scenario.presets:  # smoke, cpu, paper, and any the scenario adds (e.g. tpp's taobao)
        choices = [*PRESETS, *sorted(set(scenario.presets) - set(PRESETS))]
        raise UsageError(f"unknown preset '{preset}' for scenario '{scenario.name}'; "
                         f"choose one of: {', '.join(choices)}")
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad override '{item}': expected key=value")
    try:
        cfg = OmegaConf.structured(scenario.config)
        base = resolved if resolved is not None else dict(scenario.presets[preset])
        cfg = OmegaConf.merge(cfg, OmegaConf.create(base))
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        raise UsageError(f"bad override for scenario '{scenario.name}': {_one_line(err, scenario)}") from None
    try:
        check_config(obj)  # declared ranges of every field (scenarios/validation.py)
        validate = getattr(obj, "validate", None)
        if validate is not None:
            validate()  # the scenario's cross-field rules
    except (ValueError, TypeError, ArithmeticError) as err:  # a validate() that trips on nonsense is still bad input
        raise UsageError(f"invalid config for scenario '{scenario.name}': {err}") from None
    return obj


def config_keys(config_type: type) -> list[str]:
    """All dotted keys of a dataclass config type (for error messages)."""
    return [key for key, _, _ in leaf_fields(config_type)]


def to_dict(cfg: Any) -> dict[str, Any]:
    """A resolved config as plain containers (for config.yaml and summaries)."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


def _one_line(err: OmegaConfBaseException, scenario: Scenario) -> str:
    msg = str(err).splitlines()[0].strip()
    if "Key" in msg and "not in" in msg or "Missing key" in msg:
        keys = ", ".join(config_keys(scenario.config)) if dataclasses.is_dataclass(scenario.config) else ""
        return f"{msg}; valid keys: {keys}"
    full_key = getattr(err, "full_key", None)
    return f"{full_key}: {msg}" if full_key and full_key not in msg else msg
