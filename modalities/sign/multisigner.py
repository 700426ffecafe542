"""Real signing from several people: ../shared/realdata/hands/asl_multi_signer (never copied here).

Every source becomes `Recording`s: one signer's landmark sequence, (frames, 2, 21, 3) float32 in
one scale for x and y, hand slot 0 = the tracker's "Left" label, slot 1 = "Right", a hand not
seen is all zeros. MediaPipe divides x by the image width and y by its height, and no source
states its capture size (a 16:9 laptop camera, a 4:3 webcam, a portrait crop), so each file's
aspect is estimated from its own landmarks without labels: a person's bones keep their length
as the hand turns, so the right x scale is the one that makes the 2D bone lengths vary least
across frames (`estimate_aspect`). Signers are named so evaluation can leave one person out:
traduttore's sequences by their committing author (Alex, TheCamNelson, dmohazab; dmohazab's
FYDPASL data is counted as the same person, as its README suspects), every other folder as one
person, and both borisgraudt folders as the same person.

A malformed file or label (not an npz, wrong shape, non-finite values) is skipped with one line
through `warn`; loading goes on.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
ASPECTS = np.arange(0.5, 2.01, 0.05)
BONES = np.array(
    [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12), (13, 14),
     (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20), (5, 9), (9, 13), (13, 17)]
)  # fmt: skip
MAX_NPZ_BYTES = 64_000_000
MAX_SEQUENCES = 5_000

# label in the data -> our sequence vocabulary (kiosk words), letters upper case, "-" no sign
WORDS = {
    "hello": "HELLO",
    "thank-you": "THANK-YOU",
    "thank you": "THANK-YOU",
    "please": "PLEASE",
    "yes": "YES",
    "no": "NO",
    "i love you": "I-LOVE-YOU",
    "good job": "GOOD",
    "how much": "HOW-MUCH",
    "bye": "GOODBYE",
    "goodbye": "GOODBYE",
}
NO_SIGN = "-"
SKIP = {"space"}  # traduttore's own space gesture: not a sign of ours
FOLDER_SIGNER = {
    "tamtridung__ASL_SignWish": "tamtridung",
    "electronicaddict__Jupyter": "electronicaddict",
    "FowlDeadPool__sign-sentence-net": "FowlDeadPool",
    "dmohazab__FYDPASL": "dmohazab",
    "Techyrushi__Sign_To_Text_Conversion": "Techyrushi",
}


@dataclass(frozen=True)
class Recording:
    source: str  # folder name
    signer: str
    kind: str  # "letter" | "word"
    label: str  # letters "A".."Z"; words as in WORDS' values, "-" for no sign, other words lower case
    frames: F32  # (frames, 2, 21, 3)


def estimate_aspect(hands: npt.NDArray[np.floating], sample: int = 3000) -> float:
    """The x scale (width / height of the capture) that keeps 2D bone lengths steadiest.
    hands: (..., 21, 3) image-normalised; absent hands (all zeros) are ignored."""
    h = np.asarray(hands, np.float64).reshape(-1, 21, 3)
    h = h[np.abs(h).sum(axis=(1, 2)) > 0]
    if len(h) < 20:
        return 4.0 / 3.0  # too few hands to tell: a 640x480 webcam
    h = h[np.random.default_rng(0).permutation(len(h))[:sample]]
    spread = []
    for aspect in ASPECTS:
        d = h[:, BONES[:, 0], :2] - h[:, BONES[:, 1], :2]
        d[..., 0] *= aspect
        lengths = np.linalg.norm(d, axis=-1) + 1e-9
        spread.append(np.var(np.log(lengths / lengths.mean(axis=1, keepdims=True)), axis=0).mean())
    return float(ASPECTS[int(np.argmin(spread))])


def _normalise(a: npt.NDArray[np.float32], aspect: float) -> F32:
    """(n, f, h, 21, 3) with h 1 or 2 -> (n, f, 2, 21, 3), x and z rescaled to one scale."""
    if a.shape[2] == 1:  # one-hand recordings: the tracker's right-hand slot
        a = np.concatenate([np.zeros_like(a), a], axis=2)
    out = a.astype(np.float32).copy()
    present = np.abs(out).sum(axis=(-1, -2)) > 0
    out[..., 0] *= aspect
    out[..., 2] *= aspect
    out[~present] = 0.0
    return out


def _checked(name: str, a: npt.NDArray[np.float32]) -> str | None:
    if a.ndim != 5 or a.shape[2] not in (1, 2) or a.shape[3:] != (21, 3):
        return f"shape {a.shape} is not (sequences, frames, hands, 21, 3)"
    if not 1 <= a.shape[0] <= MAX_SEQUENCES or not 1 <= a.shape[1] <= 300:
        return f"shape {a.shape} out of bounds"
    if not np.isfinite(a).all():
        return "non-finite values"
    return None


def load_npz(path: Path, warn: Callable[[str], None]) -> dict[str, F32]:
    """label -> (n, f, 2, 21, 3); a bad file or label is skipped with a line through `warn`."""
    try:
        if path.stat().st_size > MAX_NPZ_BYTES:
            warn(f"skipped {path}: larger than {MAX_NPZ_BYTES} bytes")
            return {}
        raw = {}
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                a = data[name]
                problem = _checked(name, a)
                if problem:
                    warn(f"skipped {path} label {name!r}: {problem}")
                    continue
                raw[name] = a
        if not raw:
            return {}
        aspect = estimate_aspect(np.concatenate([a.reshape(-1, 21, 3) for a in raw.values()]))
        return {name: _normalise(a, aspect) for name, a in raw.items()}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        warn(f"skipped {path}: not a readable npz ({type(exc).__name__}: {exc})")
        return {}


def _attribution(folder: Path, warn: Callable[[str], None]) -> dict[tuple[str, str, str], str]:
    path = folder / "sequence_attribution.tsv"
    try:
        with path.open(encoding="utf-8") as f:
            return {
                (row["root"], row["label"], row["seq"]): row["added_by_commit_author"]
                for row in csv.DictReader(f, delimiter="\t")
            }
    except (OSError, KeyError, csv.Error) as exc:
        warn(f"skipped {path}: {exc}")
        return {}


def _seqids(path: Path, warn: Callable[[str], None]) -> dict[str, list[str]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: [str(x) for x in data[k]] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        warn(f"skipped {path}: {exc}")
        return {}


def _kind(label: str) -> tuple[str, str] | None:
    if label in SKIP:
        return None
    if len(label) == 1 and label.isalpha() and label.islower():
        return "letter", label.upper()
    if label == NO_SIGN:
        return "word", NO_SIGN
    return "word", WORDS.get(label, label.lower())


def multi_signer(root: Path, warn: Callable[[str], None] = print) -> list[Recording]:
    """Every recording under root/asl_multi_signer (root = realdata/hands)."""
    base = root / "asl_multi_signer"
    out: list[Recording] = []
    if not base.is_dir():
        return out
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        if folder.name.startswith("traduttore"):
            out += _traduttore(folder, warn)
        elif folder.name.startswith("borisgraudt"):
            out += _boris_clips(folder, warn)
        elif folder.name in FOLDER_SIGNER:
            signer = FOLDER_SIGNER[folder.name]
            for path in sorted(folder.glob("hands_*.npz")):
                if path.name.endswith("_seqids.npz"):
                    continue
                for label, a in load_npz(path, warn).items():
                    if folder.name.startswith("Techyrushi"):
                        kind: tuple[str, str] | None = ("letter", label.upper())
                    else:  # "I" (the pronoun) in electronicaddict is a word, not the letter
                        kind = ("word", WORDS.get(label.lower(), label.lower()))
                    if kind is None:
                        continue
                    out += [Recording(folder.name, signer, kind[0], kind[1], seq) for seq in a]
        else:
            warn(f"skipped {folder}: unknown source (add it to modalities/sign/multisigner.py)")
    return out


def _traduttore(folder: Path, warn: Callable[[str], None]) -> list[Recording]:
    who = _attribution(folder, warn)
    out = []
    for root_name in ("LETTER_Data", "MP_Data"):
        arrays = load_npz(folder / f"hands_{root_name}.npz", warn)
        ids = _seqids(folder / f"hands_{root_name}_seqids.npz", warn)
        for label, a in arrays.items():
            if root_name == "MP_Data" and label == "i":
                continue  # MP_Data's "i" sits among the words (the pronoun?): ambiguous, left out
            kind = _kind(label)
            if kind is None:
                continue
            names = ids.get(label, [])
            for i, seq in enumerate(a):
                signer = who.get((root_name, label, names[i] if i < len(names) else ""), "")
                if not signer:
                    continue  # no attribution: cannot be placed in a signer split
                out.append(Recording(folder.name, signer, kind[0], kind[1], seq))
    return out


def _boris_clips(folder: Path, warn: Callable[[str], None], clip: int = 20) -> list[Recording]:
    """The borisgraudt frames in recording order, cut into clips of `clip` frames per letter."""
    path = folder / "landmarks_raw_gestures.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data["X"], data["y"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        warn(f"skipped {path}: {exc}")
        return []
    if x.ndim != 3 or x.shape[1:] != (21, 3) or len(y) != len(x) or not np.isfinite(x).all():
        warn(f"skipped {path}: X {x.shape} does not match (n, 21, 3) with one label each")
        return []
    out = []
    aspect = estimate_aspect(x)
    for letter in sorted(set(str(v) for v in y)):
        frames = x[np.asarray(y) == letter]
        for start in range(0, len(frames) - clip + 1, clip):
            seq = _normalise(frames[None, start : start + clip, None], aspect)[0]
            out.append(Recording(folder.name, "borisgraudt", "letter", letter.upper(), seq))
    return out


def load_recordings(folder: Path, warn: Callable[[str], None] = print) -> list[Recording]:
    """A deployment's own words from `gateway sign record`: folder/WORD/*.npy, (frames, 2, 21, 3)."""
    out: list[Recording] = []
    if not folder.is_dir():
        return out
    for word_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(word_dir.glob("*.npy")):
            try:
                if path.stat().st_size > 4_000_000:
                    raise ValueError("larger than 4 MB")
                a = np.load(path, allow_pickle=False)
                problem = _checked(path.name, a[None]) if isinstance(a, np.ndarray) else "not an array"
                if problem is None and a.shape[1] != 2:
                    problem = f"shape {a.shape} is not (frames, 2, 21, 3)"
                if problem:
                    raise ValueError(problem)
            except (OSError, ValueError, EOFError) as exc:
                warn(f"skipped {path}: {exc}")
                continue
            out.append(
                Recording("recorded", "deployment", "word", word_dir.name.upper(), a.astype(np.float32))
            )
    return out
