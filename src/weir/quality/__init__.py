"""Data quality: checks on staged partitions, compiled into one scan."""
