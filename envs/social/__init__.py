"""The social-media world of the persuasion-against-misinformation method."""

from envs.social.game import (
    ACTIONS,
    NO_SHARE,
    SHARE,
    Outcomes,
    PopulationOutcomes,
    PostStates,
    SocialGame,
    UserPopulation,
    best_response,
    kronecker_confusion,
    performative_update,
    platform_utility,
    popularity_user_utility,
    population_outcomes,
    symmetric_classifier,
)
from envs.social.parallel_env import PersuasionParallelEnv, parallel_env
from envs.social.platform_env import PersuasionPlatformEnv

__all__ = [
    "ACTIONS",
    "NO_SHARE",
    "SHARE",
    "Outcomes",
    "PopulationOutcomes",
    "PersuasionParallelEnv",
    "PersuasionPlatformEnv",
    "PostStates",
    "SocialGame",
    "UserPopulation",
    "best_response",
    "kronecker_confusion",
    "parallel_env",
    "performative_update",
    "platform_utility",
    "population_outcomes",
    "popularity_user_utility",
    "symmetric_classifier",
]
