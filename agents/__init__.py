"""Agents: sender/receiver policies and solvers for the Recast scenarios."""
