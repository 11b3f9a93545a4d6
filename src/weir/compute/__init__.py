"""Compute engines: DuckDB for SQL assets, Arrow as interchange."""
