"""Monitors: statistical process control over metric series and drift between column sketches."""
