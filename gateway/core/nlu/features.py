"""Features for the intent classifier: sentence embeddings plus hashed word and character n-grams.

The embedding carries meaning across wording and languages; the n-grams carry the exact words a
domain uses ("top up", "提现") that a general-purpose encoder blurs. Hashing (crc32, stable across
runs, unlike hash()) keeps the vocabulary out of the weights file. Rows are sparse: (index, value)
pairs, L2-normalised per text.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.base import Embedder

HASH_BITS = 15  # 32768 buckets: collisions cost little at a few hundred n-grams per text
_WORD = re.compile(r"[a-z0-9']+|[\u4e00-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", _CONTROL.sub(" ", text)).lower()
    return re.sub(r"\s+", " ", text).strip()


def ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams and character 2..4-grams (within padded words; Chinese as is)."""
    text = normalise(text)
    words = _WORD.findall(text)
    grams = ["x:"] + [f"w:{w}" for w in words]  # "x:" keeps every row non-empty (reduceat)
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    for chunk in text.split(" "):
        padded = f" {chunk} "
        for n in (2, 3, 4):
            grams.extend(f"c:{padded[i:i + n]}" for i in range(len(padded) - n + 1))
    return grams


@dataclass(frozen=True)
class SparseRows:
    """CSR-like rows: row i owns indices/values[starts[i]:starts[i + 1]]."""

    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.starts) - 1

    def take(self, rows: npt.NDArray[np.int64]) -> SparseRows:
        rows = np.asarray(rows, np.int64)
        lens = self.starts[rows + 1] - self.starts[rows]
        starts = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        pos = np.repeat(self.starts[rows] - starts[:-1], lens) + np.arange(int(starts[-1]))
        return SparseRows(self.indices[pos], self.values[pos], starts)


def hashed(texts: Sequence[str], bits: int = HASH_BITS) -> SparseRows:
    mask = (1 << bits) - 1
    indices: list[int] = []
    values: list[float] = []
    starts = [0]
    for text in texts:
        counts: dict[int, int] = {}
        for g in ngrams(text):
            h = zlib.crc32(g.encode("utf-8")) & mask
            counts[h] = counts.get(h, 0) + 1
        if counts:
            v = np.log1p(np.fromiter(counts.values(), np.float32, len(counts)))
            v /= float(np.linalg.norm(v)) or 1.0
            indices.extend(counts)
            values.extend(v.tolist())
        starts.append(len(indices))
    return SparseRows(np.asarray(indices, np.int64), np.asarray(values, np.float32),
                      np.asarray(starts, np.int64))


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings on disk keyed by text hash (benchmarks embed tens of thousands of sentences once).

    One .npy per (embedder, text set): the set's hash names the file, so a changed set re-embeds.
    """

    def __init__(self, folder: Path | None, embedder: Embedder) -> None:
        self.folder, self.embedder = folder, embedder

    def embed(self, texts: Sequence[str], progress: bool = False) -> npt.NDArray[np.float32]:
        if self.folder is None:
            return self.embedder.embed(list(texts))
        digest = hashlib.sha1("\n".join(text_key(t) for t in texts).encode()).hexdigest()[:20]
        path = self.folder / f"{getattr(self.embedder, 'name', 'embedder')}-{digest}.npy"
        if path.exists():
            return np.load(path)
        rows = []
        for start in range(0, len(texts), 256):
            rows.append(self.embedder.embed(list(texts[start:start + 256])))
            if progress:
                print(f"\rembedded {min(start + 256, len(texts))}/{len(texts)}", end="", flush=True,
                      file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        out = np.concatenate(rows) if rows else np.zeros((0, self.embedder.dimensions), np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
        return out
