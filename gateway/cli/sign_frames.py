"""Camera frames from files for the sign commands (`gateway sign`, `gateway sign record`): an MJPEG
or another video container (OpenCV's demuxer), image files, or a folder of images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

MAX_VIDEO_BYTES = 200_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def frames_from_files(inputs: list[str], fps: float) -> Iterator[tuple[int, bytes]]:
    paths: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        paths += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
    period = 1000.0 / fps
    if len(paths) == 1 and paths[0].suffix.lower() not in IMAGE_SUFFIXES:
        yield from video(paths[0], fps)
        return
    for i, p in enumerate(paths):
        yield int(i * period), as_jpeg(p.read_bytes())


def as_jpeg(data: bytes) -> bytes:
    if data.startswith(b"\xff\xd8"):
        return data
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=90)
        return out.getvalue()


def video(path: Path, fps: float) -> Iterator[tuple[int, bytes]]:
    if path.stat().st_size > MAX_VIDEO_BYTES:
        raise SystemExit(f"{path} is larger than {MAX_VIDEO_BYTES} bytes")
    if path.suffix.lower() in (".mjpeg", ".mjpg"):  # concatenated JPEGs at `fps`
        data = path.read_bytes()
        start, i = data.find(b"\xff\xd8"), 0
        while start >= 0:
            end = data.find(b"\xff\xd9", start)
            if end < 0:
                break
            nxt = data.find(b"\xff\xd8", end)
            yield int(i * 1000 / fps), data[start : (nxt if nxt >= 0 else len(data))]
            start, i = nxt, i + 1
        return
    import cv2  # other containers need OpenCV's demuxer

    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            ok, buf = cv2.imencode(".jpg", frame)
            if ok:
                yield int(cap.get(cv2.CAP_PROP_POS_MSEC)), buf.tobytes()
    finally:
        cap.release()
