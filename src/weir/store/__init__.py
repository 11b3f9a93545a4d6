"""The metadata store: runs, partitions, versions and environments on SQLAlchemy Core."""
