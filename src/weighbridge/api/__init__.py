"""HTTP only: request parsing, auth, error rendering and the routes. No SQL, no files."""
