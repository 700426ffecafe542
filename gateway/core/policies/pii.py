"""PII masking is pure and every layer needs it (screenshots are masked in modalities/screen):
it lives in the leaf contracts package; re-exported here for the core."""

from contracts.pii import MAX_CHARS, TOKENS, Masked, PiiMatch, cn_id_valid, find_pii, luhn_valid, mask

__all__ = ["MAX_CHARS", "TOKENS", "Masked", "PiiMatch", "cn_id_valid", "find_pii", "luhn_valid", "mask"]
