"""Every rendered face says it is synthetic: an invisible watermark in its pixels (``watermark.py``) and a
machine-readable statement in its file (``statement.py``), and the check of both (``verify.py``)."""
