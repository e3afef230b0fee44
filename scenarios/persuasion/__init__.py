"""Scenarios of the persuasion-against-misinformation method (single round and performative)."""
