"""Event-sequence scenarios: long-horizon forecasting of marked temporal point processes."""
