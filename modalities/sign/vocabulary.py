"""What the sign classifier can recognise, written down as handshapes for the hand model.

Classes are ASL fingerspelling handshapes, the digits whose handshape differs from every letter,
and a kiosk vocabulary held as its ASL citation form's hold posture (one or two hands). Digits
whose handshape IS a letter (0=O, 1=D, 2=V, 6=W, 9=F) are aliases resolved by context in the
decoder; motion signs (J, Z, YES, WHERE) share a handshape class and are told apart by the
decoder from the trajectory. Descriptions follow common ASL dictionaries (Lifeprint,
HandSpeak); angles are ours and deliberately loose: the generator adds wide noise around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from modalities.sign.handmodel import Finger, Shape, Thumb

EXT = Finger()
CURL = Finger(75, 100, 35)  # fist (trackers report a straighter last joint)
BENT = Finger(80, 5, 5)  # straight finger bent at the knuckle
HOOK = Finger(10, 60, 50)  # X
CLAW = Finger(45, 105, 70)  # E
CURVE = Finger(30, 40, 25)  # C
ROUND = Finger(45, 55, 35)  # O: tips meet the thumb
TUCK = Finger(75, 95, 60)  # curled over a tucked thumb (M, N, T)


def _hand(
    index: Finger = CURL,
    middle: Finger = CURL,
    ring: Finger = CURL,
    pinky: Finger = CURL,
    thumb: Thumb | None = None,
    point: str = "up",
    palm: str = "camera",
) -> Shape:
    fingers = {"index": index, "middle": middle, "ring": ring, "pinky": pinky}
    return Shape(fingers, thumb or Thumb(), point, palm)


def _abd(f: Finger, degrees: float) -> Finger:
    return Finger(f.mcp, f.pip, f.dip, degrees)


THUMB_SIDE = Thumb(azimuth=20, elevation=-5)  # along the side of the index (A)
THUMB_OUT = Thumb(azimuth=65, elevation=5)  # L, Y, 5
THUMB_ACROSS = Thumb(target=("middle", 0, (0.0, 0.1, 0.25)))  # over the curled fingers (S, I, U)
THUMB_PALM = Thumb(target=("ring", 0, (0.05, -0.05, 0.1)))  # folded onto the palm (B, 4)


def _touch(finger: str) -> Thumb:
    return Thumb(target=(finger, 3, (0.0, 0.0, 0.03)))


STATIC_LETTERS: dict[str, Shape] = {
    "A": _hand(thumb=THUMB_SIDE),
    "B": _hand(EXT, EXT, EXT, EXT, THUMB_PALM),
    "C": _hand(CURVE, CURVE, CURVE, CURVE, Thumb(azimuth=50, elevation=45, mcp=15, ip=15), palm="right"),
    "D": _hand(EXT, ROUND, ROUND, ROUND, _touch("middle")),
    "E": _hand(CLAW, CLAW, CLAW, CLAW, Thumb(target=("ring", 1, (0.05, -0.1, 0.12)))),
    "F": _hand(ROUND, _abd(EXT, -4), _abd(EXT, -8), _abd(EXT, -14), _touch("index")),
    "G": _hand(BENT, thumb=Thumb(target=("index", 3, (0.1, 0.0, 0.08))), palm="right"),  # index bent sideways
    "H": _hand(Finger(65, 0, 0, -3), Finger(65, 0, 0, 3), thumb=THUMB_ACROSS, palm="right"),
    "I": _hand(pinky=Finger(25, 30, 15), thumb=Thumb(target=("index", 1, (0.0, 0.0, 0.1)))),
    "K": _hand(_abd(EXT, 2), Finger(15, 0, 0), thumb=Thumb(target=("middle", 1, (0.0, 0.0, 0.04)))),
    "L": _hand(EXT, thumb=THUMB_OUT),
    "M": _hand(TUCK, TUCK, TUCK, thumb=Thumb(target=("ring", 1, (0.0, 0.0, -0.08)))),  # thumb under
    "N": _hand(TUCK, TUCK, thumb=Thumb(target=("middle", 1, (0.0, 0.0, -0.08)))),
    "O": _hand(ROUND, ROUND, ROUND, ROUND, _touch("middle"), palm="right"),
    "P": _hand(
        _abd(EXT, 2),
        Finger(15, 0, 0),
        thumb=Thumb(target=("middle", 1, (0.0, 0.0, 0.04))),
        point="right+down+camera",
        palm="down",
    ),  # K pointing forward and down
    "Q": _hand(
        Finger(100, 0, 0),
        thumb=Thumb(target=("index", 3, (0.12, 0.0, 0.05))),
        point="up+camera",
        palm="down+camera",
    ),
    "R": _hand(_abd(EXT, -14), _abd(EXT, 14), thumb=THUMB_ACROSS),
    "S": _hand(thumb=Thumb(target=("ring", 1, (0.0, 0.0, 0.08)))),  # thumb over the fingers
    "T": _hand(Finger(60, 80, 20), thumb=Thumb(target=("index", 1, (-0.08, 0.0, -0.03)))),
    "U": _hand(_abd(EXT, -2), _abd(EXT, 2), thumb=THUMB_ACROSS),
    "V": _hand(_abd(EXT, 12), _abd(EXT, -8), thumb=THUMB_ACROSS),
    "W": _hand(_abd(EXT, 12), EXT, _abd(EXT, -10), thumb=_touch("pinky")),
    "X": _hand(HOOK, Finger(40, 60, 30), thumb=THUMB_ACROSS),
    "Y": _hand(pinky=_abd(EXT, -20), thumb=Thumb(azimuth=45, elevation=5)),
}
# Motion letters: J traces with the I hand, Z with the index (the decoder reads the motion).
MOTION_BASE = {"J": "I", "Z": "Z/index", "YES": "S", "WHERE": "Z/index"}

DIGITS: dict[str, Shape] = {
    "3": _hand(_abd(EXT, 10), _abd(EXT, -6), thumb=THUMB_OUT, palm="away"),
    "4": _hand(_abd(EXT, 10), _abd(EXT, 2), _abd(EXT, -6), _abd(EXT, -14), THUMB_PALM, palm="away"),
    "5": _hand(_abd(EXT, 14), _abd(EXT, 3), _abd(EXT, -8), _abd(EXT, -20), THUMB_OUT, palm="away"),
    "7": _hand(EXT, EXT, ROUND, EXT, _touch("ring")),
    "8": _hand(EXT, ROUND, EXT, EXT, _touch("middle")),
}
# The index hand shared by 1, Z and WHERE; D is told apart by the thumb touching the middle.
INDEX_HAND = _hand(EXT, thumb=Thumb(target=("middle", 1, (0.0, 0.05, 0.15))))
ALIASES = {"O": "0", "D": "1", "V": "2", "W": "6", "F": "9"}  # letter shape -> digit reading

FLAT_PALM_UP = _hand(EXT, EXT, EXT, EXT, THUMB_PALM, point="right", palm="up")


@dataclass(frozen=True)
class TwoHands:
    """Dominant hand `top` held at `offset` (palm lengths, image x/y) from the base hand."""

    top: Shape
    base: Shape
    offset: tuple[float, float]


ONE_HAND_SIGNS: dict[str, Shape] = {
    "Z/index": INDEX_HAND,
    "THANK-YOU": _hand(EXT, EXT, EXT, EXT, THUMB_PALM, point="camera", palm="up"),
    "NO": _hand(Finger(55, 60, 40), Finger(55, 60, 40), thumb=_touch("index")),
    "GOOD": _hand(thumb=Thumb(azimuth=80, elevation=-10), point="camera", palm="left"),
    "I-LOVE-YOU": _hand(EXT, pinky=_abd(EXT, -12), thumb=THUMB_OUT),
}
TWO_HAND_SIGNS: dict[str, TwoHands] = {
    "HELP": TwoHands(_hand(thumb=THUMB_SIDE, palm="left"), FLAT_PALM_UP, (0.0, -1.0)),
    "STOP": TwoHands(
        _hand(EXT, EXT, EXT, EXT, THUMB_PALM, point="up", palm="left"), FLAT_PALM_UP, (0.2, -1.4)
    ),
    "REPEAT": TwoHands(
        _hand(BENT, BENT, BENT, BENT, THUMB_PALM, point="up", palm="down"), FLAT_PALM_UP, (0.2, -1.2)
    ),
    "PAY": TwoHands(_hand(EXT, thumb=THUMB_ACROSS, point="down", palm="left"), FLAT_PALM_UP, (0.4, -1.3)),
    "INTERPRETER": TwoHands(STATIC_LETTERS["F"], STATIC_LETTERS["F"], (1.6, 0.0)),
    "RETURN": TwoHands(
        _hand(BENT, BENT, BENT, BENT, _touch("middle"), point="camera", palm="down"),
        _hand(BENT, BENT, BENT, BENT, _touch("middle"), point="camera", palm="down"),
        (1.8, 0.0),
    ),
    "FINISH": TwoHands(DIGITS["5"], DIGITS["5"], (2.2, 0.0)),
}
REST = "REST"  # hands at rest: relaxed, low, no sign (generated separately)

LABELS: tuple[str, ...] = (
    *STATIC_LETTERS,
    *DIGITS,
    *ONE_HAND_SIGNS,
    *TWO_HAND_SIGNS,
    REST,
)
KIOSK_SIGNS = (
    "HELP",
    "YES",
    "NO",
    "THANK-YOU",
    "STOP",
    "REPEAT",
    "INTERPRETER",
    "PAY",
    "RETURN",
    "WHERE",
    "FINISH",
    "GOOD",
    "I-LOVE-YOU",
    # learned from real signers by the sequence model only
    "HELLO",
    "PLEASE",
    "HOW-MUCH",
    "GOODBYE",
)
