"""The social-media world of the persuasion-against-misinformation method."""

from envs.social.game import (
    ACTIONS,
    NO_SHARE,
    SHARE,
    Outcomes,
    PostStates,
    SocialGame,
    best_response,
    kronecker_confusion,
    performative_update,
    platform_utility,
    popularity_user_utility,
    symmetric_classifier,
)

__all__ = [
    "ACTIONS",
    "NO_SHARE",
    "SHARE",
    "Outcomes",
    "PostStates",
    "SocialGame",
    "best_response",
    "kronecker_confusion",
    "performative_update",
    "platform_utility",
    "popularity_user_utility",
    "symmetric_classifier",
]
