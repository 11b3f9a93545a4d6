"""Incidents: one root cause, one incident, grouped by provenance."""
