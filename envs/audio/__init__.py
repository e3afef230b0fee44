"""The audio world: spoken digits (eSpeak NG) in sound events, words and noise, with exact oracle masks.

``speech`` synthesises and caches the words, ``sounds`` the interferers, ``mixtures`` mixes them into
clips (in-domain and out-of-domain contamination) with clean targets and ideal masks, ``spectral`` is the
STFT / log-mel / listenable-output front end, ``wavio`` reads and writes WAV files, and
``recast/AudioExplain-v0`` (``explain_env``) streams clips to an explainer (action: a mask).
"""

from __future__ import annotations

from envs.audio.mixtures import MODES, SPLITS, AudioWorld, Clips, WorldSpec
from envs.audio.spectral import Spectral, mel_filterbank, oracle_masks
from envs.audio.speech import COMMANDS, DIGITS, Speaker, WordBank, default_cache_dir, synthesize
from envs.audio.wavio import AudioFileError, read_wav, write_wav

__all__ = [
    "COMMANDS", "DIGITS", "MODES", "SPLITS", "AudioFileError", "AudioWorld", "Clips", "Speaker", "Spectral",
    "WordBank", "WorldSpec", "default_cache_dir", "mel_filterbank", "oracle_masks", "read_wav", "synthesize",
    "write_wav",
]
