"""Transcriber on faster-whisper (CTranslate2, int8 on CPU) with the bundled tiny.en or base weights.

An utterance of up to 30 s is decoded at its own length: its own log-mel frames (padded to 10 s)
go through CTranslate2's `Whisper.generate`, instead of faster-whisper's fixed 30-s window, which
costs the same for a 2-s turn as for a 30-s one. A pass the guards reject (`whisper_guards`:
loop, token cap, compression) is decoded again the old way; so is anything longer than 30 s.
The language is detected on the same encoder output (one decoder step, no second encoder pass).

The pipeline runs its own VAD, so faster-whisper's is off; condition_on_previous_text is off
because it turns a second language into hallucinated English on long multilingual audio.
Chinese output is converted to simplified characters: the base model often answers traditional.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from contracts.errors import LimitExceeded, MediaError, ModelUnavailable
from contracts.text import close_cjk_gaps
from models import weights, whisper_guards
from models.base import Float32Audio, TranscriberInfo, Transcript
from models.extras import needs_extra

WhisperSize = Literal["tiny.en", "base"]
MAX_AUDIO_SECONDS = 600.0
_MIN_SAMPLES = 1600  # 0.1 s: shorter input cannot hold a word
_NO_SPEECH = 0.6  # faster-whisper's thresholds: a pass this sure of silence and this unsure of
_LOW_LOGPROB = -1.0  # its words is dropped (its text is what Whisper invents on noise)


class FasterWhisperTranscriber:
    def __init__(
        self,
        model: WhisperSize = "tiny.en",
        *,
        threads: int = 2,
        workers: int = 1,
        beam_size: int = 1,
        temperatures: tuple[float, ...] = (0.0,),
        hotwords: str | None = None,
        prompts: Mapping[str, str] | None = None,
        vocabulary: Mapping[str, str] | None = None,
        beam_sizes: Mapping[str, int] | None = None,
        variable_length: bool = True,
    ) -> None:
        if model not in ("tiny.en", "base"):
            raise ModelUnavailable(f"unknown whisper model {model!r}; choose 'tiny.en' or 'base'")
        with needs_extra("voice", "speech recognition"):
            from faster_whisper import WhisperModel  # lazy: ctranslate2 is heavy to import

        folder = weights.resolve(f"whisper-{model}")
        try:
            self._model: Any = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                            cpu_threads=threads, num_workers=workers, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"cannot load whisper {model} from {folder}: {exc}") from exc
        if model == "tiny.en":
            languages: tuple[str, ...] = ("en",)
        else:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            languages = tuple(_LANGUAGE_CODES)
        self.info = TranscriberInfo(name=f"faster-whisper-{model}", languages=languages, sample_rate=16000)
        self.beam_size = beam_size
        self.beam_sizes = dict(beam_sizes or {})  # per language, where beam search pays (Mandarin)
        # One greedy pass by default: faster-whisper's fallback ladder (0.0 .. 1.0) re-decodes up
        # to six times on low-confidence audio (measured 6.5x slower on a synthetic Chinese clip).
        self.temperatures = list(temperatures) or [0.0]
        self.hotwords = hotwords  # domain words (product names) whisper would otherwise misspell
        # Per language: the default prompt when the caller has said nothing yet in this turn, and
        # the tenant's vocabulary (hotwords). Both bias the decoder; see docs/models.md.
        self.prompts = dict(prompts or {})
        self.vocabulary = dict(vocabulary or {})
        self.variable_length = variable_length
        self.counts = {"own-length": 0, "padded": 0, "batched": 0, "loop": 0, "token-cap": 0,
                       "compression": 0, "skipped-speech": 0, "bare-retry": 0}
        self._t2s: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                raise ModelUnavailable(f"{self.info.name} was closed")
            return self._model  # in-flight calls keep their reference if close() races them

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def _check(self, audio: Float32Audio, language: str | None) -> Float32Audio:
        if language is not None and language not in self.info.languages:
            raise ModelUnavailable(f"{self.info.name} does not transcribe {language!r}",
                                   code="asr-language-unsupported")
        arr = np.asarray(audio, dtype=np.float32)
        if arr.ndim != 1:
            raise MediaError(f"expected mono audio, got shape {arr.shape}", code="audio-bad-format")
        if arr.size > MAX_AUDIO_SECONDS * self.info.sample_rate:
            raise LimitExceeded(f"audio longer than {MAX_AUDIO_SECONDS:g} s", code="audio-too-long")
        return arr

    def transcribe(
        self, audio: Float32Audio, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        arr = self._check(audio, language)
        seconds = arr.size / self.info.sample_rate
        if len(self.info.languages) == 1:
            language = self.info.languages[0]  # an English-only model has nothing to detect
        if arr.size < _MIN_SAMPLES:
            return Transcript("", language or self.info.languages[0], 0.0, seconds)
        model = self._loaded()
        heard = None
        if self.variable_length and seconds * whisper_guards.FRAMES_PER_SECOND < whisper_guards.MAX_FRAMES:
            result, language, heard = self._own_length(model, arr, language, prompt)
            if result is not None:
                self._count("own-length")
                return result
        self._count("padded")
        padded = self._padded(model, arr, language, prompt)
        return replace(padded, heard=heard) if heard is not None else padded  # a session may switch

    def _own_length(self, model: Any, arr: Float32Audio, language: str | None, prompt: str | None
                    ) -> tuple[Transcript | None, str | None, tuple[str, float] | None]:
        """One pass over the utterance's own frames: (transcript, language, what it sounds like when
        the language was given); the transcript is None when a guard rejects the pass."""
        from faster_whisper.audio import pad_or_trim

        features = model.feature_extractor(arr)
        frames = whisper_guards.padded_frames(int(features.shape[-1]))
        encoded = model.encode(pad_or_trim(features, frames))
        probability, heard = 1.0, None
        if len(self.info.languages) > 1:  # on the same encoder output: one decoder step
            top = self._sounds_like(model, encoded)[0]
            if language is None:
                language, probability = top
            else:  # decoded as told, but what it sounds like is reported (a session may switch)
                heard = top
        spoken = language or self.info.languages[0]

        def decode(words: str | None, *, bare: bool = False) -> Transcript | None:
            tokenizer, ids = self._prompt(model, spoken, words, bare=bare)  # on the same encoder output
            return self._decode(model, encoded, [(arr, spoken, tokenizer, ids)], probability)[0]

        result = decode(prompt)
        if result is None and (prompt or self.prompts.get(spoken) or self._hotwords(spoken)):
            # A loop written under a prompt or hotwords: on a short piece with little speech the
            # tenant's vocabulary alone made base write "收款账户收款户…" until the cap (and the
            # padded decode looped again, 3 to 7 s). Decoded again with neither before the padded
            # decode is tried.
            self._count("bare-retry")
            result = decode(None, bare=True)
        elif result is not None and prompt and self._skipped_speech(model, result):
            self._count("skipped-speech")  # decoded again without the prompt; the longer wins
            again = decode(None)
            if again is not None and len(again.text) > len(result.text):
                result = again
        return (replace(result, heard=heard) if result is not None else None), spoken, heard

    def _skipped_speech(self, model: Any, result: Transcript) -> bool:
        tokens = len(model.hf_tokenizer.encode(" " + result.text, add_special_tokens=False).ids)
        return whisper_guards.skipped_speech(tokens, result.audio_seconds) if result.text else False

    def _sounds_like(self, model: Any, encoded: Any) -> list[tuple[str, float]]:
        """The most likely language of each encoded utterance and its probability."""
        ranked = model.model.detect_language(encoded)  # per utterance: (token, p), most likely first
        return [(str(top[0][0][2:-2]), float(top[0][1])) for top in ranked]

    def transcribe_batch(self, items: Sequence[tuple[Float32Audio, str | None, str | None]]
                         ) -> list[Transcript | Exception]:
        """Several utterances (audio, language, prompt) at once: those of at most `MIN_FRAMES` with
        a known language share one encoder and one decoder call (each is padded to the same 10 s
        it would be padded to alone, so its transcript is the same; CTranslate2 needs the prompts
        of one call to be equally long before the start token, so they are grouped by that); the
        rest, and any the guards reject, are decoded one by one as `transcribe` does. An item's own
        error (bad audio, a language the model does not hear) is returned in its place; an engine
        failure raises."""
        results: list[Transcript | Exception | None] = [None] * len(items)
        groups: dict[tuple[int, int], list[tuple[int, Float32Audio, str, Any, list[int]]]] = {}
        model = self._loaded()
        for i, (audio, language, prompt) in enumerate(items):
            try:
                arr = self._check(audio, language)
            except (MediaError, LimitExceeded, ModelUnavailable) as exc:
                results[i] = exc
                continue
            if len(self.info.languages) == 1:
                language = self.info.languages[0]
            seconds = arr.size / self.info.sample_rate
            if (self.variable_length and language is not None and arr.size >= _MIN_SAMPLES
                    and seconds * whisper_guards.FRAMES_PER_SECOND <= whisper_guards.MIN_FRAMES):
                tokenizer, ids = self._prompt(model, language, prompt)
                key = (ids.index(tokenizer.sot), self._beam(language))  # a call: one prompt length, beam
                groups.setdefault(key, []).append((i, arr, language, tokenizer, ids))
        for group in groups.values():
            if len(group) < 2:
                continue
            from faster_whisper.audio import pad_or_trim

            features = np.stack([pad_or_trim(model.feature_extractor(arr), whisper_guards.MIN_FRAMES)
                                 for _, arr, _, _, _ in group])
            encoded = model.encode(features)
            calls = [(arr, lang, tok, ids) for _, arr, lang, tok, ids in group]
            decoded = self._decode(model, encoded, calls, 1.0)
            heard = self._sounds_like(model, encoded) if len(self.info.languages) > 1 else [None] * len(group)
            for (i, *_), result, sounds in zip(group, decoded, heard, strict=True):
                if result is not None and items[i][2] and self._skipped_speech(model, result):
                    continue  # decoded again one by one below, where the prompt can be dropped
                if result is not None:
                    self._count("own-length")
                    self._count("batched")
                    results[i] = replace(result, heard=sounds)
        for i, (audio, language, prompt) in enumerate(items):
            if results[i] is None:
                try:
                    results[i] = self.transcribe(audio, language=language, prompt=prompt)
                except (MediaError, LimitExceeded, ModelUnavailable) as exc:
                    results[i] = exc
        return [r for r in results if r is not None]

    def _prompt(self, model: Any, language: str, prompt: str | None, *, bare: bool = False
                ) -> tuple[Any, list[int]]:
        """The decoder prompt: the turn's earlier words (else the language's default prompt) and
        the hotwords; `bare`: neither."""
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                              language=language)
        text_prompt = None if bare else prompt or self.prompts.get(language)
        previous = tokenizer.encode(" " + text_prompt.strip()) if text_prompt else []
        return tokenizer, list(model.get_prompt(tokenizer, previous, without_timestamps=True,
                                                hotwords=None if bare else self._hotwords(language)))

    def _decode(self, model: Any, encoded: Any, items: Sequence[tuple[Float32Audio, str, Any, list[int]]],
                probability: float) -> list[Transcript | None]:
        """Greedy/beam decoding of encoder outputs, one per item (audio, language, tokenizer, prompt
        ids); None for an item whose pass a guard rejects (the caller then decodes it padded)."""
        from faster_whisper.transcribe import get_suppressed_tokens

        caps = [whisper_guards.token_cap(arr.size / self.info.sample_rate, len(ids), model.max_length)
                for arr, _, _, ids in items]
        outs = model.model.generate(
            encoded, [ids for *_, ids in items], beam_size=self._beam(items[0][1]),
            max_length=max(len(ids) + cap for (*_, ids), cap in zip(items, caps, strict=True)),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(items[0][2], [-1]),
        )
        results: list[Transcript | None] = []
        for (arr, language, tokenizer, _), cap, out in zip(items, caps, outs, strict=True):
            seconds = arr.size / self.info.sample_rate
            tokens = list(out.sequences_ids[0])
            text = tokenizer.decode(tokens).strip()
            avg_logprob = out.scores[0] * len(tokens) / (len(tokens) + 1)  # length_penalty 1, as f-w
            if (out.no_speech_prob > _NO_SPEECH and avg_logprob < _LOW_LOGPROB) or not any(
                    c.isalnum() for c in text):
                text = ""  # silence or noise: what faster-whisper drops too (or a lone ".")
            else:
                why = whisper_guards.rejection(tokens, text, cap)
                if why is not None:
                    self._count(why)
                    results.append(None)
                    continue
            text = self._normalise(text, language)
            parts = ((0.0, seconds, text),) if text else ()
            results.append(Transcript(text, language, float(probability), seconds, parts))
        return results

    def _padded(self, model: Any, arr: Float32Audio, language: str | None, prompt: str | None) -> Transcript:
        """faster-whisper's own decode: 30-s windows (and its temperature ladder, if configured)."""
        seconds = arr.size / self.info.sample_rate
        text_prompt = prompt or (self.prompts.get(language) if language else None)
        _, ids = self._prompt(model, language or self.info.languages[0], prompt)  # as f-w builds it
        segments, run = model.transcribe(
            arr, language=language, initial_prompt=text_prompt, beam_size=self._beam(language),
            temperature=self.temperatures, condition_on_previous_text=False, vad_filter=False,
            hotwords=self._hotwords(language),
            # a loop stops where the words of this much audio would (448 tokens of beam search: seconds)
            max_new_tokens=whisper_guards.token_cap(min(seconds, 30.0), len(ids) + 2),
        )
        parts = tuple((float(s.start), float(s.end), whisper_guards.collapse_repeats(str(s.text).strip()))
                      for s in segments)
        lang = str(run.language)
        text = self._normalise(" ".join(p[2] for p in parts if p[2]).strip(), lang)
        if lang == "zh":
            parts = tuple((start, end, self._normalise(t, lang)) for start, end, t in parts)
        return Transcript(text, lang, float(run.language_probability), seconds, parts)

    def _beam(self, language: str | None) -> int:
        return max(self.beam_size, self.beam_sizes.get(language or "", 1))

    def _hotwords(self, language: str | None) -> str | None:
        words = [w for w in (self.hotwords, self.vocabulary.get(language or "")) if w]
        return " ".join(words) or None

    def detect_language(self, audio: Float32Audio) -> tuple[str, float]:
        """Most likely language of the first 30 s (one encoder pass plus one decoder step)."""
        arr = self._check(audio, None)
        if len(self.info.languages) == 1:
            return self.info.languages[0], 1.0
        lang, prob, _ = self._loaded().detect_language(audio=arr)
        return str(lang), float(prob)

    def _normalise(self, text: str, language: str) -> str:
        if language != "zh" or not text:
            return text
        if self._t2s is None:
            with needs_extra("zh", "Chinese transcripts"):
                from opencc import OpenCC  # lazy: only multilingual sessions that hear Chinese need it

            self._t2s = OpenCC("t2s")
        return close_cjk_gaps(str(self._t2s.convert(text)))

    def close(self) -> None:
        with self._lock:
            self._model = None  # ctranslate2 frees the weights when the last reference goes
