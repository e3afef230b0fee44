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
# Atari (DART, envs/atari): the Atari 100k protocol on ale-py (game=, mode=train|test) and MinAtar at 64×64 RGB.
gymnasium.register(id="recast/Atari100k-v0", entry_point="envs.atari.ale:Atari100kEnv")
gymnasium.register(id="recast/MinAtar-v0", entry_point="envs.atari.minatar_env:MinAtarEnv")
# Llip (envs/media): multi-object scenes with one-object captions — per-object retrieval, multi-label detection.
gymnasium.register(id="recast/MediaObjectRetrieval-v0", entry_point="envs.media.object_envs:ObjectRetrievalEnv")
gymnasium.register(id="recast/MediaMultiLabel-v0", entry_point="envs.media.object_envs:MultiLabelDetectionEnv")
gymnasium.register(id="recast/VideoLocalization-v0", entry_point="envs.media.video_env:VideoLocalizationEnv")
gymnasium.register(id="recast/SetInclusionQA-v0", entry_point="envs.tasks.qa_env:SetInclusionQAEnv")
# Neural processes (CMANP, envs/tasks): streamed-context prediction on GP / digit tasks; the wheel bandit.
gymnasium.register(id="recast/NPRegression-v0", entry_point="envs.tasks.np_env:NeuralProcessEnv")
gymnasium.register(id="recast/WheelBandit-v0", entry_point="envs.tasks.wheel_bandit:WheelBanditEnv")
# Audio explanations (L-MAC, envs/audio): spoken digits in interference; action = a time–frequency mask.
gymnasium.register(id="recast/AudioExplain-v0", entry_point="envs.audio.explain_env:AudioExplainEnv")
