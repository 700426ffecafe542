"""Screenshots to structured text turns: image intake, OCR, reading order, fields, summary."""
