"""Goal-reaching scenarios (Merlin, offline goal-conditioned RL): ``goal_reaching``."""
