"""Deterministic policies that run before any model: PII, emergency, risk step-up, frustration."""
