"""A kinematic hand model: 21 MediaPipe-style landmarks from finger joint angles.

Used to synthesise training poses for handshapes nobody recorded for us. The skeleton is a
right hand in a local frame (x toward the thumb, y along the fingers, z out of the palm) with
typical adult proportions in palm lengths (wrist to middle knuckle = 1). Fingers bend toward
+z; the thumb is aimed by azimuth/elevation or reaches a contact target with two-bone IK.
The hand is then oriented by named image directions, mirrored for a left hand, and projected
with a weak-perspective camera, giving landmarks in the tracker's convention (x right, y down,
z toward the scene, one scale for all axes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vec = npt.NDArray[np.float64]

FINGERS = ("index", "middle", "ring", "pinky")
# knuckle (MCP) positions and phalanx lengths, palm lengths
MCP = {"index": (0.30, 0.95), "middle": (0.08, 1.0), "ring": (-0.13, 0.95), "pinky": (-0.31, 0.85)}
PHALANX = {
    "index": (0.45, 0.27, 0.22),
    "middle": (0.50, 0.30, 0.23),
    "ring": (0.46, 0.28, 0.22),
    "pinky": (0.36, 0.21, 0.20),
}
THUMB_CMC = (0.22, 0.28)
THUMB_LEN = (0.42, 0.36, 0.30)  # CMC-MCP, MCP-IP, IP-tip

DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "up": (0, -1, 0),
    "down": (0, 1, 0),
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "camera": (0, 0, -1),
    "away": (0, 0, 1),
}


@dataclass(frozen=True)
class Finger:
    """Flexion at MCP, PIP, DIP (degrees, toward the palm) and abduction (degrees, toward thumb)."""

    mcp: float = 0.0
    pip: float = 0.0
    dip: float = 0.0
    abduct: float = 0.0


@dataclass(frozen=True)
class Thumb:
    """Either aimed (azimuth from the finger axis toward the thumb side, elevation toward the
    palm, flexion of MCP and IP) or reaching `target`: (finger, landmark 0-3, local offset)."""

    azimuth: float = 40.0
    elevation: float = 10.0
    mcp: float = 0.0
    ip: float = 0.0
    target: tuple[str, int, tuple[float, float, float]] | None = None


@dataclass(frozen=True)
class Shape:
    fingers: dict[str, Finger] = field(default_factory=dict)
    thumb: Thumb = Thumb()
    point: str = "up"  # where the fingers (wrist to knuckles) point in the image
    palm: str = "camera"  # where the palm faces


def _rot(axis: Vec, degrees: float) -> Vec:
    axis = axis / np.linalg.norm(axis)
    a = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def _unit(v: Vec) -> Vec:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def pose_local(shape: Shape, rng: np.random.Generator | None = None, jitter: float = 0.0) -> Vec:
    """21x3 landmarks of a right hand in the local frame; `jitter` degrees of angle noise and
    the same fraction/100 of bone-length noise model another signer's anatomy and accuracy."""

    def j(scale: float = 1.0) -> float:
        return float(rng.normal(0.0, jitter * scale)) if rng is not None and jitter else 0.0

    def size() -> float:
        return 1.0 + (float(rng.normal(0.0, jitter / 150)) if rng is not None and jitter else 0.0)

    pts = np.zeros((21, 3))
    x, y, z = np.eye(3)
    for i, name in enumerate(FINGERS):
        f = shape.fingers.get(name, Finger())
        base = 5 + 4 * i
        mx, my = MCP[name]
        p = np.array([mx * size(), my * size(), 0.0])
        pts[base] = p
        spread = _rot(z, -(f.abduct + j(0.5) - 4.0 * (i - 1.5)))  # + abducts toward the thumb
        d, axis = spread @ y, spread @ x
        total = 0.0
        for k, (angle, length) in enumerate(zip((f.mcp, f.pip, f.dip), PHALANX[name], strict=True)):
            total += max(-10.0, angle + j())
            p = p + length * size() * (_rot(axis, total) @ d)
            pts[base + k + 1] = p
    th = shape.thumb
    cmc = np.array([THUMB_CMC[0], THUMB_CMC[1], 0.0])
    pts[1] = cmc
    az, el = np.radians(th.azimuth + j()), np.radians(th.elevation + j())
    aim = np.cos(el) * (np.sin(az) * x + np.cos(az) * y) + np.sin(el) * z
    l1, l2, l3 = (length * size() for length in THUMB_LEN)
    if th.target is None:
        mcp = cmc + l1 * aim
        bend = _unit(np.cross(aim, z)) if abs(float(aim @ z)) < 0.95 else x
        d2 = _rot(bend, -(th.mcp + j())) @ aim
        ip = mcp + l2 * d2
        tip = ip + l3 * (_rot(bend, -(th.mcp + th.ip + 2 * j())) @ aim)
    else:
        finger, joint, offset = th.target
        goal = pts[5 + 4 * FINGERS.index(finger) + joint] + np.array(offset)
        if rng is not None and jitter:
            goal = goal + rng.normal(0.0, jitter / 150, size=3)  # 6% of a palm at jitter 9
        aim = _unit(0.5 * _unit(goal - cmc) + 0.5 * aim)
        mcp = cmc + l1 * aim
        ip, tip = _two_bone(mcp, goal, l2, l3, -z)
    pts[2], pts[3], pts[4] = mcp, ip, tip
    return pts


def _two_bone(start: Vec, goal: Vec, l1: float, l2: float, bend: Vec) -> tuple[Vec, Vec]:
    """Middle joint and end of a two-bone chain reaching toward goal, elbow toward `bend`."""
    to_goal = goal - start
    dist = float(np.linalg.norm(to_goal))
    u = _unit(to_goal)
    if dist >= l1 + l2 - 1e-6:
        return start + l1 * u, start + (l1 + l2) * u
    dist = max(dist, abs(l1 - l2) + 1e-3)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = float(np.sqrt(max(l1 * l1 - a * a, 0.0)))
    side = bend - (bend @ u) * u
    side = _unit(side) if np.linalg.norm(side) > 1e-6 else _unit(np.cross(u, [1.0, 0.0, 0.0]))
    mid = start + a * u + h * side
    return mid, start + dist * u


def _direction(name: str) -> Vec:
    """A named image direction; "up+camera" is halfway between up and toward the camera."""
    return _unit(sum((np.array(DIRECTIONS[part], dtype=float) for part in name.split("+")), np.zeros(3)))


def orientation(point: str, palm: str, right: bool = True) -> Vec:
    """Rotation (columns: thumb side, fingers, palm normal) from named image directions."""
    f = _direction(point)
    p = _direction(palm)
    p = p - (p @ f) * f
    if np.linalg.norm(p) < 1e-6:  # palm given along the fingers: pick a sensible facing
        p = np.array(DIRECTIONS["camera"] if point not in ("camera", "away") else DIRECTIONS["down"], float)
    p = _unit(p)
    thumb = -np.cross(f, p) if right else np.cross(f, p)
    return np.stack([thumb, f, p], axis=1)


def place(
    local: Vec,
    rotation: Vec,
    *,
    centre: tuple[float, float],
    scale: float,
    depth: float = 4.0,
) -> Vec:
    """Image-space landmarks: local pose rotated, scaled to `scale` (palm length as a fraction of
    the image), wrist at `centre`, weak perspective at `depth` palm lengths from the camera."""
    world = local @ rotation.T  # a left hand's rotation is a reflection: no separate mirroring
    persp = depth / (depth + world[:, 2:3])  # nearer points look larger
    out = np.empty_like(world)
    out[:, :2] = world[:, :2] * persp * scale + np.array(centre)
    out[:, 2] = world[:, 2] * scale
    return out


def random_rotation(rng: np.random.Generator, degrees: float) -> Vec:
    """A small random 3D rotation (axis uniform, angle normal with sd `degrees`)."""
    axis = rng.normal(size=3)
    return _rot(axis, float(rng.normal(0.0, degrees)))
