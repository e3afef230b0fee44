"""Language scenarios: ``meta_ocl`` (meta-(out-of-context) learning, Krasheninnikov et al.)."""
