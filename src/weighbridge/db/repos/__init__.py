"""Queries, one module per table. Repos only read and flush; the caller commits."""
