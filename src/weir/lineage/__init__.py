"""Lineage: the graph of sources, assets and insights, and OpenLineage events sent from the event log."""
