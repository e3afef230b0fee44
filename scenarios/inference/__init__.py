"""Inference scenarios: nested sampling (GGNS vs dynesty)."""
