"""The event log as its readers see it: events after a cursor, of some kinds."""
