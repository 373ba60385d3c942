"""apibridge's benchmarks: run them with ``python -m benchmarks`` (see ``__main__.py``)."""
