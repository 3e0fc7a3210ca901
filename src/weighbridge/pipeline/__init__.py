"""The import body: turns one uploaded file into a checked model folder (see run.py)."""
