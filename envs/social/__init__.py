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
    garbling_chain,
    kronecker_confusion,
    performative_update,
    platform_utility,
    random_garbling,
    popularity_user_utility,
    population_outcomes,
    symmetric_classifier,
)
from envs.social.dynamics import belief_update, content_update, feed_counts, reach_outcomes
from envs.social.networks import BUNDLED, GENERATED, GRAPHS, build_graph, read_graph_file
from envs.social.parallel_env import PersuasionParallelEnv, parallel_env
from envs.social.platform_env import PersuasionPlatformEnv

__all__ = [
    "ACTIONS",
    "BUNDLED",
    "GENERATED",
    "GRAPHS",
    "NO_SHARE",
    "SHARE",
    "Outcomes",
    "PopulationOutcomes",
    "PersuasionParallelEnv",
    "PersuasionPlatformEnv",
    "PostStates",
    "SocialGame",
    "UserPopulation",
    "belief_update",
    "best_response",
    "build_graph",
    "content_update",
    "feed_counts",
    "garbling_chain",
    "kronecker_confusion",
    "parallel_env",
    "performative_update",
    "platform_utility",
    "population_outcomes",
    "popularity_user_utility",
    "random_garbling",
    "reach_outcomes",
    "read_graph_file",
    "symmetric_classifier",
]
