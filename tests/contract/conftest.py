"""The storage contract tests use the S3 server fixture from tests/conftest.py."""
