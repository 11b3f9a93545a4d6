"""Table storage: Delta Lake tables written staged, then published atomically."""
