"""Recast worlds. Importing this package registers every Recast env under the ``recast/`` namespace.

>>> import gymnasium, envs
>>> env = gymnasium.make("recast/PersuasionPlatform-v0")
"""

from __future__ import annotations

import gymnasium

gymnasium.register(
    id="recast/PersuasionPlatform-v0",
    entry_point="envs.social.platform_env:PersuasionPlatformEnv",
)
gymnasium.register(id="recast/PosteriorQuery-v0", entry_point="envs.inference.query_env:PosteriorQueryEnv")
gymnasium.register(id="recast/DigitsClassify-v0", entry_point="envs.tasks.classify_env:ClassifyEnv")
