"""A frozen copy of the event-signature extraction before its speed-up, for `tests/test_event_reference.py` only.

`event.py` and `figures.py` are verbatim copies of `ingest/event.py` and `ingest/figures.py` at commit
5e1504c; the one change is the import of `figures` in `event.py`, which points here. Never edit them:
the differential test asserts that today's extraction gives exactly what these gave.
"""
