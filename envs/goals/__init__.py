"""Goal-reaching worlds for offline goal-conditioned RL (Merlin, spec ``merlin.md``) and their datasets.

Registered ids (``import envs`` first): ``recast/PointReach-v0`` (open arena), ``recast/PointRooms-v0``
(four rooms), ``recast/ReacherGoal-v0`` (two-link arm), and — only with the optional ``robotics`` extra —
``recast/FetchReach-v0`` / ``recast/FetchPush-v0``. All episodes last 50 steps.
"""

from __future__ import annotations

from envs.goals.core import GoalReachingEnv
from envs.goals.datasets import GoalDataset, build_dataset, from_awgcsl, load_dataset
from envs.goals.four_rooms import PointRoomsEnv
from envs.goals.point import PointReachEnv
from envs.goals.reacher import ReacherGoalEnv

GOAL_ENV_IDS = ("recast/PointReach-v0", "recast/PointRooms-v0", "recast/ReacherGoal-v0")
# MuJoCo worlds (the "robotics" extra): registered only when gymnasium-robotics / mujoco import
FETCH_ENV_IDS = ("recast/FetchReach-v0", "recast/FetchPush-v0")
MUJOCO_ENV_IDS = (*FETCH_ENV_IDS, "recast/MujocoReacherGoal-v0")

__all__ = ["FETCH_ENV_IDS", "GOAL_ENV_IDS", "MUJOCO_ENV_IDS", "GoalDataset", "GoalReachingEnv", "PointReachEnv", "PointRoomsEnv",
           "ReacherGoalEnv", "build_dataset", "from_awgcsl", "load_dataset"]
