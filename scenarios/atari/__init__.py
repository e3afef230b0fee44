"""Atari-family scenarios (DART: ``atari_tokens``)."""
