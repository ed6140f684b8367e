"""Small shared helpers (console output)."""
