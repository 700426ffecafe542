"""Fallback Synthesizer: eSpeak NG 1.52 through ctypes on the library and data inside espeakng-loader.

Robotic but intelligible in about 100 languages (Mandarin `cmn`, Cantonese `yue`, ...), so a
caller is answered in their language when piper has no voice for it. Synthesis is synchronous
into memory through the synth callback, one chunk per sentence.

libespeak-ng keeps process-global state (one voice, one callback), so every call sets both
again under this instance's lock; create one EspeakSynthesizer per process and share it.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from contracts.errors import ModelUnavailable
from models import weights
from models.base import Int16Audio, SynthesizerInfo

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data file makes espeak call exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
# ISO 639-1 codes whose espeak voice has another name.
_VOICE_NAMES = {"zh": "cmn", "en": "en-us"}
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


class EspeakSynthesizer:
    def __init__(self, *, words_per_minute: int = 140, model_name: str = "espeak-ng") -> None:
        folder = weights.resolve(model_name)  # espeakng_loader/: the library and espeak-ng-data/
        self._lock = threading.Lock()
        self._pcm: list[bytes] = []
        self._callback = _SynthCallback(self._on_audio)  # kept referenced: C holds the pointer
        with self._lock:
            try:
                lib: Any = ctypes.CDLL(str(folder / "libespeak-ng.so"))
            except OSError as exc:
                raise ModelUnavailable(f"cannot load {folder / 'libespeak-ng.so'}: {exc}") from exc
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
            lib.espeak_SetSynthCallback.restype = None
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(folder).encode(),
                                         _INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise ModelUnavailable(f"espeak-ng failed to initialise with data in {folder}")
            self._lib: Any = lib
        self.words_per_minute = words_per_minute
        self.info = SynthesizerInfo(name="espeak-ng", languages=self._languages(folder / "espeak-ng-data"),
                                    sample_rate=int(rate))

    @staticmethod
    def _languages(data: Path) -> tuple[str, ...]:
        names = {p.name.lower() for p in (data / "lang").rglob("*") if p.is_file() and "-" not in p.name}
        return tuple(sorted(names | {code for code, voice in _VOICE_NAMES.items() if voice in names}))

    def _on_audio(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            self._pcm.append(ctypes.string_at(wav, count * 2))
        return 0  # 0: go on synthesising

    def synthesize(self, text: str, *, language: str) -> Iterator[Int16Audio]:
        self.info.check(text, language)
        voice = _VOICE_NAMES.get(language, language).encode()
        for sentence in _sentences(text):
            with self._lock:
                audio = self._synth_locked(sentence.encode("utf-8"), voice)
            if audio.size:
                yield audio

    def _synth_locked(self, text: bytes, voice: bytes) -> Int16Audio:
        lib = self._lib
        if lib is None:
            raise ModelUnavailable("espeak-ng was closed")
        lib.espeak_SetSynthCallback(self._callback)
        if lib.espeak_SetVoiceByName(voice) != 0:
            raise ModelUnavailable(f"espeak-ng cannot select voice {voice.decode()!r}",
                                   code="tts-language-unsupported")
        lib.espeak_SetParameter(_PARAM_RATE, self.words_per_minute, 0)
        self._pcm = []
        status = lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        pcm, self._pcm = b"".join(self._pcm), []
        if status != 0:
            raise ModelUnavailable(f"espeak-ng synthesis failed with status {status}")
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16)

    def close(self) -> None:
        with self._lock:
            if self._lib is not None:
                self._lib.espeak_Terminate()
                self._lib = None
