"""The engine: planning, run lifecycle and executors."""
