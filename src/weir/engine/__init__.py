"""The engine: planning, the scheduler, the run lifecycle and executors (found by name in a registry)."""
