"""N-event forecasters for marked temporal point processes: CDiff and its autoregressive / Hawkes baselines.

Every forecaster draws joint samples of the next N events (:meth:`Forecaster.sample`, (S, B, N) tensors) and
reduces them with the shared point-forecast rule (:func:`point_forecast`: mean τ, mode type, spec tpp.md §7).
"""

from agents.forecasters.cdiff import CDiff, CDiffConfig, CDiffNet, HorizonDenoiser
from agents.forecasters.common import BoxCoxStandardizer, EventBatch, Forecaster, pad_sequences, point_forecast
from agents.forecasters.encoders import HistoryEncoder, sinusoid
from agents.forecasters.hawkes_mle import HawkesForecaster, batch_log_likelihood
from agents.forecasters.intensity_free import IntensityFree, IntensityFreeConfig, lognormal_mixture_density

__all__ = [
    "BoxCoxStandardizer",
    "CDiff",
    "CDiffConfig",
    "CDiffNet",
    "EventBatch",
    "Forecaster",
    "HawkesForecaster",
    "HistoryEncoder",
    "HorizonDenoiser",
    "IntensityFree",
    "IntensityFreeConfig",
    "batch_log_likelihood",
    "lognormal_mixture_density",
    "pad_sequences",
    "point_forecast",
    "sinusoid",
]
