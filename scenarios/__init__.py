"""Recast scenarios: named experiments and the runtime they share (configs, seeds, run dirs, sweeps).

    python -m scenarios.run --list
    python -m scenarios.run misinformation_performative
    python -m scenarios.sweep misinformation_single_round --grid game.engagement_weight=0,0.2 --seeds 3
"""
