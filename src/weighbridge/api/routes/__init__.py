"""Route groups, one module each, all under /api/public."""
