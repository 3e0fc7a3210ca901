"""Background execution of dock-status jobs: import, export and delete."""
