"""The knowledge base: documents to passages, a SQLite store, hybrid BM25 + embedding retrieval."""
