"""Runs: planning and building partitions, the runs recorded, and the data they published."""
