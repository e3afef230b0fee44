"""Meta-learning scenarios: neural processes conditioned on context sets (``neural_processes``)."""
