"""Every env registered under ``recast/`` is made by ``gymnasium.make`` and passes ``check_env``."""

from __future__ import annotations

import warnings

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the recast/ namespace)

RECAST_IDS = sorted(env_id for env_id in gymnasium.registry if env_id.startswith("recast/"))


def test_importing_envs_registers_the_namespace() -> None:
    assert "recast/PersuasionPlatform-v0" in RECAST_IDS
    assert len(RECAST_IDS) >= 8


@pytest.mark.parametrize("env_id", RECAST_IDS)
def test_registered_env_passes_check_env(env_id: str) -> None:
    try:
        env = gymnasium.make(env_id)
    except (ImportError, gymnasium.error.DependencyNotInstalled) as err:  # optional extras (e.g. robotics)
        pytest.skip(f"{env_id}: {err}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's style advice; its errors still raise
        check_env(env.unwrapped, skip_render_check=True)
    env.close()
