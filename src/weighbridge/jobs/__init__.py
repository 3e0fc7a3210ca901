"""Background execution of dock-status jobs (import now; export and delete later)."""
