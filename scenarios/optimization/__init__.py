"""Scenarios of the optimisation methods (``sharpness``: Lookbehind-SAM and the SAM family)."""
