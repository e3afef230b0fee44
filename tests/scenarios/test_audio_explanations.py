"""The ``audio_explanations`` scenario: one smoke run end to end (with a user WAV to explain), config errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.run import execute


def test_smoke_run_writes_table_figures_wavs_and_chance_rows(tmp_path, monkeypatch) -> None:
    import soundfile as sf

    monkeypatch.setenv("RECAST_AUDIO_CACHE", str(tmp_path / "cache"))
    user = tmp_path / "user_16k_stereo.wav"  # wrong rate, channels and dtype: resampled, mixed down
    t = np.arange(24000) / 16000
    sf.write(user, (np.stack([np.sin(2 * np.pi * 440 * t)] * 2, 1) * 2e9).astype(np.int32), 16000, "PCM_32")
    summary = execute("audio_explanations", preset="smoke", overrides=[f"eval.explain_wavs=[{user}]"],
                      runs_root=tmp_path / "runs", show_progress=False)
    assert summary["status"] == "complete"
    run_dir = next((tmp_path / "runs" / "audio_explanations").iterdir())
    df = pd.read_csv(run_dir / "results.csv")
    assert len(df) == 9 * 2 * 2  # methods × domains (in_domain, ood_white) × seeds
    ones = df[df["arm"] == "all_ones"]
    assert (ones[["AI", "AD", "AG"]] == 0).all().all() and (ones["Fid-In"] == 1).all()
    oracle = df[df["arm"] == "oracle_ibm"]
    assert (oracle["mask IoU"] == 1).all() and (oracle["SI-SDR"] > ones["SI-SDR"].to_numpy()).all()
    assert np.isfinite(df.select_dtypes("number").to_numpy()).all()
    assert "L-MAC FT" in (run_dir / "table.md").read_text()
    assert {"faithfulness.png", "quality.png", "randomisation.png", "masks_in_domain.png",
            "masks_ood_white.png"} <= {p.name for p in run_dir.glob("*.png")}
    assert len(list((run_dir / "wavs").glob("in_domain_clip0_*.wav"))) == 7  # mixture, target, 5 methods
    back, rate = sf.read(run_dir / "wavs" / "user_user_16k_stereo_lmac.wav")
    assert rate == 8000 and back.shape == (8000,)
    rand = pd.read_csv(run_dir / "randomisation.csv")
    assert (rand[rand["stage"] == 0]["spearman"] == 1).all() and rand["stage"].max() == 5
    assert all(isinstance(v, float) and not math.isnan(v) for v in summary["metrics"].values())
    assert -1 <= summary["metrics"]["lmac_env_reward"] <= 1  # one AudioExplain-v0 episode per seed, L-MAC acting


@pytest.mark.parametrize("override", ["n_seeds=0", "classifier.widths=[8,16]", "data.ood_modes=[ood_rain]",
                                      "lmac.l1_reduction=sum", "data.n_classes=11", "lmac.lr=-1",
                                      "eval.explain_wavs=[/nonexistent/clip.wav]"])
def test_bad_config_is_a_one_line_usage_error(override) -> None:
    with pytest.raises(UsageError) as err:
        build_config(get_scenario("audio_explanations"), "smoke", [override])
    assert "\n" not in str(err.value)
    if "explain_wavs" in override:
        assert "/nonexistent/clip.wav" in str(err.value)
