"""Audio scenarios: ``audio_explanations`` (L-MAC listenable explanations vs gradient baselines)."""
