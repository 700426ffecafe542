"""Read a whole audio file (WAV, FLAC, MP3, OGG via libsndfile) as float32 mono, with caps."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt

from contracts.errors import MediaError

Float32Audio = npt.NDArray[np.float32]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_SECONDS = 600.0


def read_audio(
    source: str | Path | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> tuple[Float32Audio, int]:
    """(samples in [-1, 1], sample rate). Multi-channel audio is averaged to mono.

    Raises MediaError with code `audio-too-large` (bytes or duration over the caps) or
    `audio-unreadable` (missing file, unknown or corrupt format).
    """
    import soundfile as sf  # lazy: libsndfile is only needed when files are read

    if isinstance(source, bytes | bytearray):
        size, name = len(source), "audio data"
        handle: io.BytesIO | str = io.BytesIO(source)
    else:
        path = Path(source)
        name = str(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise MediaError(f"cannot read {name}: {exc.strerror}", code="audio-unreadable") from exc
        handle = str(path)
    if size > max_bytes:
        raise MediaError(f"{name} is {size} bytes, over the cap of {max_bytes}", code="audio-too-large")
    try:
        with sf.SoundFile(handle) as snd:
            rate = int(snd.samplerate)
            if rate <= 0:
                raise MediaError(f"{name} has no valid sample rate", code="audio-unreadable")
            limit = int(max_seconds * rate)
            # Read one frame past the cap: some formats (MP3) report an estimated length.
            data = snd.read(frames=limit + 1, dtype="float32", always_2d=True)
    except MediaError:
        raise
    except (RuntimeError, TypeError, ValueError, OSError) as exc:
        # soundfile raises LibsndfileError (a RuntimeError) or TypeError for unknown formats.
        raise MediaError(f"cannot decode {name}: {exc}", code="audio-unreadable") from exc
    if data.shape[0] > limit:
        raise MediaError(f"{name} is longer than {max_seconds:g} s", code="audio-too-large")
    if data.shape[0] == 0:
        raise MediaError(f"{name} contains no audio", code="audio-unreadable")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32), rate
