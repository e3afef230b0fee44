"""The audio world: eSpeak NG words, exact mixtures and oracle masks, STFT/ISTFT, WAV I/O, the env."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/AudioExplain-v0)
from envs.audio import DIGITS, AudioFileError, AudioWorld, Spectral, WordBank, WorldSpec, read_wav, write_wav
from envs.audio.explain_env import AudioExplainEnv
from envs.audio.spectral import hz_to_mel


def _si_sdr(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    x, s = estimate - estimate.mean(-1, keepdims=True), reference - reference.mean(-1, keepdims=True)
    target = (x * s).sum(-1, keepdims=True) / (s * s).sum(-1, keepdims=True) * s
    return 10 * np.log10((target**2).sum(-1) / ((x - target) ** 2).sum(-1))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> AudioWorld:
    return AudioWorld(WorldSpec(n_classes=3, n_speakers=6, snr_spread=0.0), tmp_path_factory.mktemp("bank"))


def test_words_are_speech_like_distinct_per_word_and_cached(tmp_path) -> None:
    bank = WordBank(DIGITS[:4], 3, seed=5, sr=8000, cache_dir=tmp_path)
    assert bank.cache_path.exists()
    for row in bank.waves:
        for wave in row:
            assert 0.15 * 8000 < wave.size < 1.0 * 8000  # a spoken word: a few hundred ms
            assert np.sqrt(np.mean(wave**2)) > 0.02  # not silent
    spec = Spectral()
    for k in range(3):  # the same speaker's words differ: low correlation of their mean log-spectra
        profiles = np.stack([spec.log1p_magnitude(bank.waves[w][k]).mean(0) for w in range(4)])
        corr = np.corrcoef(profiles - profiles.mean(0))
        assert corr[~np.eye(4, dtype=bool)].max() < 0.9
    again = WordBank(DIGITS[:4], 3, seed=5, sr=8000, cache_dir=tmp_path)  # read back from the cache file
    assert all(np.array_equal(a, b) for ra, rb in zip(bank.waves, again.waves) for a, b in zip(ra, rb))
    fresh = WordBank(DIGITS[:4], 3, seed=5, sr=8000, cache_dir=None)  # synthesis is deterministic
    assert all(np.array_equal(a, b) for ra, rb in zip(bank.waves, fresh.waves) for a, b in zip(ra, rb))


@pytest.mark.parametrize("mode, snr", [("in_domain", 0.0), ("ood_words", 20 * np.log10(4)),
                                       ("ood_white", 20 * np.log10(2)), ("ood_babble", -5.0)])
def test_mixture_is_target_plus_interference_at_the_stated_snr(world, mode, snr) -> None:
    clips = world.sample(6, mode, "test", np.random.default_rng(0))
    np.testing.assert_allclose(clips.mixture, clips.target + clips.interference, atol=1e-6)
    assert np.abs(clips.mixture).max(-1) == pytest.approx(np.ones(6), abs=1e-6)  # peak-normalised
    measured = 10 * np.log10((clips.target**2).sum(-1) / (clips.interference**2).sum(-1))
    np.testing.assert_allclose(measured, snr, atol=1e-3)


def test_oracle_mask_recovers_the_target(world) -> None:
    sp = world.spectral
    clean = world.sample(4, "clean", "test", np.random.default_rng(1))
    ibm = world.features(clean)["ibm"]  # no interference: the IBM passes every bin the target occupies
    np.testing.assert_allclose(sp.listenable(ibm, clean.mixture), clean.target, atol=1e-5)
    clips = world.sample(8, "in_domain", "test", np.random.default_rng(2))
    feats = world.features(clips)
    recovered = sp.listenable(feats["ibm"], clips.mixture)  # a binary mask on log1p|S| = on |S|
    np.testing.assert_allclose(recovered, sp.istft(feats["ibm"] * sp.stft(clips.mixture), world.n_samples),
                               atol=1e-4)
    gain = _si_sdr(recovered, clips.target) - _si_sdr(clips.mixture, clips.target)
    assert np.median(_si_sdr(recovered, clips.target)) > 10 and gain.min() > 3
    assert ((feats["irm"] >= 0) & (feats["irm"] <= 1)).all() and ((feats["irm"] > 0.5) == (feats["ibm"] > 0)).all()


def test_stft_round_trip_and_tone_bin() -> None:
    sp = Spectral()
    wave = np.random.default_rng(0).standard_normal((3, 8000))
    np.testing.assert_allclose(sp.istft(sp.stft(wave), 8000), wave, atol=1e-10)
    tone = np.sin(2 * np.pi * 1000 * np.arange(8000) / 8000)
    spec = np.abs(sp.stft(tone))
    assert spec.shape == (sp.n_frames(8000), 129)
    assert (spec[5:-5].argmax(-1) == 1000 * 256 // 8000).all()  # bin k = f · n_fft / sr


def test_mel_filterbank_triangles_equally_spaced_in_mel() -> None:
    sp = Spectral()
    fb = sp.fbank
    assert fb.shape == (129, 40) and fb.min() >= 0 and fb.max() <= 1
    centres = np.linspace(0, 4000, 129)[fb.argmax(0)]
    spacing = np.diff(hz_to_mel(centres))
    assert np.all(np.diff(centres) > 0) and spacing.std() / spacing.mean() < 0.35  # bins quantise the centres


def test_wav_of_wrong_rate_channels_dtype_is_resampled(tmp_path) -> None:
    import soundfile as sf

    t = np.arange(16000) / 16000
    stereo = np.stack([np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 500 * t)], 1) * 0.5
    sf.write(tmp_path / "stereo.wav", (stereo * 2**31 * 0.9).astype(np.int32), 16000, subtype="PCM_32")
    wave = read_wav(tmp_path / "stereo.wav", 8000, duration=1.0)
    assert wave.dtype == np.float32 and wave.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.fft.rfftfreq(8000, 1 / 8000)[spectrum.argmax()] == pytest.approx(500, abs=1)
    assert np.abs(wave).max() == pytest.approx(0.45, abs=0.02)
    write_wav(tmp_path / "out.wav", wave, 8000)
    back, rate = sf.read(tmp_path / "out.wav")
    assert rate == 8000 and back.shape == (8000,)


def test_unusable_wav_is_one_line_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(AudioFileError, match="broken.wav") as err:
        read_wav(bad, 8000)
    assert "\n" not in str(err.value)
    import soundfile as sf

    sf.write(tmp_path / "empty.wav", np.zeros(0), 8000)
    with pytest.raises(AudioFileError, match="empty.wav: the file holds no samples"):
        read_wav(tmp_path / "empty.wav", 8000)


def test_registered_env_passes_check_env_and_rewards() -> None:
    env = gymnasium.make("recast/AudioExplain-v0", n_classes=3, n_speakers=6, episode_length=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    obs2, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs, obs2)
    ibm = env.unwrapped._clip["ibm"]
    _, reward, terminated, truncated, step_info = env.step(ibm)
    assert reward == pytest.approx(1.0) and step_info["mask_iou"] == pytest.approx(1.0)  # oracle mask: IoU 1
    _, _, terminated, _, _ = env.step(np.zeros_like(ibm))
    assert terminated and not truncated


def test_env_reward_is_masked_in_minus_masked_out_probability() -> None:
    def band_classifier(x: np.ndarray) -> np.ndarray:  # 3 classes: energy in 3 frequency bands
        logits = np.stack([x[..., :43].sum((-1, -2)), x[..., 43:86].sum((-1, -2)), x[..., 86:].sum((-1, -2))], -1)
        e = np.exp(logits / 100 - (logits / 100).max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    env = AudioExplainEnv(n_classes=3, n_speakers=6, classifier=band_classifier)
    obs, _ = env.reset(seed=0)
    p = band_classifier(np.stack([obs, 0 * obs]))
    _, reward, *_ = env.step(np.ones_like(obs))  # masked-in = X, masked-out = silence
    c = p[0].argmax()
    assert reward == pytest.approx(p[0, c] - p[1, c], abs=1e-6)
