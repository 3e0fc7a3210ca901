"""Business rules: accounts and keys, upload sessions, chunk intake, jobs, the registry.

Services take a database session (`db`) from the caller and only flush; the edge that
opened the transaction commits it.
"""
