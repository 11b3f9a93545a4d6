"""Keeping a workspace healthy: ``doctor`` checks that the tables hold what the metadata says
and that readers can read it, ``repair`` makes the metadata agree with the Delta logs,
``vacuum`` removes files no published version needs, and ``damage_message`` turns a read that
failed on a damaged table into one line."""
