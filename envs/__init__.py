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
# Goal reaching (Merlin, envs/goals): 50-step episodes; Fetch only with the optional "robotics" extra.
gymnasium.register(id="recast/PointReach-v0", entry_point="envs.goals.point:PointReachEnv", max_episode_steps=50,
                   vector_entry_point="envs.goals.point:PointReachVectorEnv")
gymnasium.register(id="recast/PointRooms-v0", entry_point="envs.goals.four_rooms:PointRoomsEnv", max_episode_steps=50,
                   vector_entry_point="envs.goals.four_rooms:PointRoomsVectorEnv")
gymnasium.register(id="recast/ReacherGoal-v0", entry_point="envs.goals.reacher:ReacherGoalEnv", max_episode_steps=50,
                   vector_entry_point="envs.goals.reacher:ReacherGoalVectorEnv")
import importlib.util  # noqa: E402

if importlib.util.find_spec("gymnasium_robotics") is not None:
    gymnasium.register(id="recast/FetchReach-v0", entry_point="envs.goals.fetch:FetchGoalEnv",
                       kwargs={"task": "FetchReach-v4"}, max_episode_steps=50)
    gymnasium.register(id="recast/FetchPush-v0", entry_point="envs.goals.fetch:FetchGoalEnv",
                       kwargs={"task": "FetchPush-v4"}, max_episode_steps=50)
if importlib.util.find_spec("mujoco") is not None:  # Gymnasium's MuJoCo Reacher-v5 behind a goal interface
    gymnasium.register(id="recast/MujocoReacherGoal-v0", entry_point="envs.goals.mujoco_reacher:MujocoReacherGoalEnv",
                       max_episode_steps=50)
gymnasium.register(id="recast/MediaGrounding-v0", entry_point="envs.media.grounding_env:GroundingEnv")
gymnasium.register(id="recast/MediaZeroShot-v0", entry_point="envs.media.zero_shot_env:ZeroShotEnv")
gymnasium.register(id="recast/EventForecast-v0", entry_point="envs.events.forecast_env:EventForecastEnv")
