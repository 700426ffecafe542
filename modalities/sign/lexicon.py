"""Fingerspelled letters become words: a lexicon of what callers spell at a service desk.

Order numbers (digits) pass through untouched. A spelled word the lexicon holds keeps its
confidence; one within a small edit distance of exactly one lexicon word becomes that word with
its confidence lowered by a quarter per edit, so the turn drops below the read-back threshold
and the kiosk asks ("Did you sign SHIPPING?"); anything else (a name the lexicon lacks) stays as
spelled, a little less sure. The built-in words are the sample knowledge base's product and
service words and common names; a deployment adds its own (`SignSettings.lexicon_words`).
"""

from __future__ import annotations

from collections.abc import Iterable

SERVICE_WORDS = (
    "ORDER RETURN REFUND RECEIPT INVOICE ACCOUNT PASSWORD EMAIL PHONE ADDRESS DELIVERY SHIPPING "
    "TRACKING PACKAGE PARCEL WARRANTY REPAIR EXCHANGE PAYMENT CARD VISA MASTERCARD PAYPAL ALIPAY "
    "WECHAT UNIONPAY WALLET GIFT VOUCHER COUPON DISCOUNT PRICE CANCEL CHARGE STORE CHAT HOURS "
    "EXPRESS STANDARD MEMBER PLUS MAPLE FURNITURE CHAIR TABLE SOFA LAMP DESK PHONE LAPTOP CABLE "
    "CHARGER BATTERY SIZE SMALL MEDIUM LARGE COFFEE TEA WATER HELP YES NO OK"
)
NAMES = (
    "ANNA ALEX ALI AMY BEN CHEN DAVID EMMA EVA JOHN JOSE JUAN KIM LEE LI LUCY MARIA MARK MARY "
    "MIA NOAH OMAR PAUL PETER SAM SARA TOM WANG YUKI ZOE"
)
MAX_WORD = 40


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute), two rows of memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class Lexicon:
    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w.strip().upper() for w in words if 0 < len(w.strip()) <= MAX_WORD)

    @classmethod
    def default(cls, extra: Iterable[str] = ()) -> Lexicon:
        return cls([*SERVICE_WORDS.split(), *NAMES.split(), *extra])

    def correct(self, spelled: str, confidence: float) -> tuple[str, float]:
        """(word, confidence) for a spelled word; see the module docstring."""
        if not spelled or any(c.isdigit() for c in spelled) or spelled in self.words:
            return spelled, confidence
        if len(spelled) < 3:  # too short to correct: I, OK, a name's initials
            return spelled, confidence
        allowed = 1 if len(spelled) < 6 else 2
        best: list[tuple[int, str]] = sorted(
            (d, w)
            for w in self.words
            if abs(len(w) - len(spelled)) <= allowed and (d := edit_distance(spelled, w)) <= allowed
        )
        if best and (len(best) == 1 or best[0][0] < best[1][0]):
            distance, word = best[0]
            return word, round(confidence * (1.0 - 0.25 * distance), 3)
        return spelled, round(confidence * 0.9, 3)
