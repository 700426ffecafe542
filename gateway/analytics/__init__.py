"""The analytics loop: what the stored calls say about resolution, hand-offs, actions, latency and
the questions the knowledge base cannot answer yet (`gateway report`, docs/report.md).

Batch work over the stores, off the call path: it reads SQLite files read-only and never runs in
a serving process's event loop.
"""
