"""Event streams: multivariate Hawkes processes, TPP data files, the N-event forecasting protocol and metrics."""

from envs.events.forecast_env import (
    DEFAULT_HAWKES,
    EventForecastEnv,
    ForecastWindows,
    make_windows,
    synthetic_hawkes_dataset,
)
from envs.events.formats import (
    EventDataset,
    EventSequence,
    load_easytpp_json,
    load_event_file,
    load_hypro_pickle,
    save_easytpp_json,
    save_hypro_pickle,
    validate_sequence,
)
from envs.events.hawkes import (
    HawkesProcess,
    check_hawkes_params,
    compensator_increments,
    hawkes_intensity,
    hawkes_log_likelihood,
    simulate_hawkes,
    simulate_hawkes_batch,
    spectral_radius,
    stationary_rate,
)
from envs.events.metrics import DEL_COSTS, count_rmse, dt_rmse, dt_smape, forecast_metrics, otd, otd_per_cost

__all__ = [
    "DEFAULT_HAWKES",
    "DEL_COSTS",
    "EventDataset",
    "EventForecastEnv",
    "EventSequence",
    "ForecastWindows",
    "HawkesProcess",
    "check_hawkes_params",
    "compensator_increments",
    "count_rmse",
    "dt_rmse",
    "dt_smape",
    "forecast_metrics",
    "hawkes_intensity",
    "hawkes_log_likelihood",
    "load_easytpp_json",
    "load_event_file",
    "load_hypro_pickle",
    "make_windows",
    "otd",
    "otd_per_cost",
    "save_easytpp_json",
    "save_hypro_pickle",
    "simulate_hawkes",
    "simulate_hawkes_batch",
    "spectral_radius",
    "stationary_rate",
    "synthetic_hawkes_dataset",
    "validate_sequence",
]
