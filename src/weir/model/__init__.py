"""weir's vocabulary as immutable values; no I/O here."""
