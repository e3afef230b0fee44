"""Run as a script by :func:`envs.audio.speech.synthesize_many`: JSON requests on stdin → ``.npz`` on stdout.

eSpeak NG's C API (``speak_lib.h``) through ctypes: ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, …)``
returns the sample rate (22 050 Hz); a synth callback collects the int16 chunks; per request
``espeak_SetVoiceByName("en+f3")``, ``espeak_SetParameter`` (rate, pitch, pitch range),
``espeak_ng_SetRandSeed`` and libc ``srand`` (its noise sources), ``espeak_Synth`` and ``espeak_Synchronize``.
Only NumPy and ctypes are imported, so the interpreter starts quickly.
"""

import ctypes
import io
import json
import sys
import zlib

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS, POS_CHARACTER, CHARS_UTF8 = 2, 1, 1
RATE, PITCH, RANGE = 1, 3, 4  # espeak_PARAMETER


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    lib, libc = ctypes.CDLL(job["library"]), ctypes.CDLL(None)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, job["data"].encode(), 0)
    if rate <= 0:
        sys.exit(f"espeak_Initialize failed ({rate})")
    chunks = []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    def collect(wav, n, _events):
        if wav and n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    lib.espeak_SetSynthCallback(collect)
    out = {"sample_rate": np.array(rate)}
    for i, (text, voice, words_per_min, pitch, pitch_range) in enumerate(job["requests"]):
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            sys.exit(f"eSpeak NG has no voice '{voice}'")
        for parameter, value in ((RATE, words_per_min), (PITCH, pitch), (RANGE, pitch_range)):
            lib.espeak_SetParameter(parameter, int(value), 0)
        seed = zlib.crc32(f"{text}|{voice}|{words_per_min}|{pitch}|{pitch_range}".encode())
        lib.espeak_ng_SetRandSeed(seed)
        libc.srand(seed)
        chunks.clear()
        data = text.encode()
        lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        out[f"w{i}"] = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    buffer = io.BytesIO()
    np.savez(buffer, **out)
    sys.stdout.buffer.write(buffer.getvalue())


if __name__ == "__main__":
    main()
