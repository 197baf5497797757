"""Code shared by the tests (tests/ is on pytest's pythonpath: `from helpers.<module> import`);
tests/conftest.py exposes the common pieces as fixtures."""
