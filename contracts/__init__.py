"""What every layer shares: errors, turns, PII masking, evaluation helpers. A leaf: it imports
nothing from models, modalities or gateway (tests/test_layering.py checks the whole ladder)."""
