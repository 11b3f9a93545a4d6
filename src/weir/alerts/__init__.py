"""Alerts: an outbox of notifications about incidents, delivered to two audiences over webhook, SMTP and file channels."""
