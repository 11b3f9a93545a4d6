"""Projects, their deployments, code versions, configurations and library environments."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint, false

from weir.store.schema.base import metadata

projects = Table(
    "projects",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("root", Text, nullable=False),  # the folder that holds its weir.toml
    Column("registered_at", Float, nullable=False),
)


deployments = Table(
    "deployments",  # a version of a project (a digest of what defines it) at a code location; one active per project
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("location", Text, nullable=False),  # the project folder (or bundle file) it is loaded from
    Column("kind", String(16), nullable=False),  # folder | bundle
    Column("active", Boolean, nullable=False, server_default=false()),
    Column("created_at", Float, nullable=False),
    Column("activated_at", Float),
    Column("actor", String(200)),  # who deployed it
    UniqueConstraint("project", "digest", "location", name="uq_deployments_version"),
    Index("ix_deployments_project", "project", "active"),
)


code_versions = Table(
    "code_versions",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("code_version", String(32), primary_key=True),
    Column("kind", String(10), nullable=False),  # python | sql
    Column("definition", Text, nullable=False),  # the function source or the SQL, as built
    Column("settings", JSON, nullable=False),  # partitions, inputs, model: what else shapes the data
    Column("location", String(400)),
    Column("created_at", Float, nullable=False),
)


configurations = Table(
    "configurations",  # what configured runs besides code, stored once per content hash
    metadata,
    Column("id", String(64), primary_key=True),  # content hash
    Column("project", String(200), nullable=False),
    Column("project_file", Text, nullable=False),  # weir.toml as read
    Column("nodes", JSON, nullable=False),  # {asset or source: {checks | monitors | metrics | ...: [line]}}
    Column("created_at", Float, nullable=False),
)


environments = Table(
    "environments",
    metadata,
    Column("id", String(64), primary_key=True),  # content hash
    Column("python", String(64), nullable=False),
    Column("platform", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("packages", JSON, nullable=False),  # {name: version}
    Column("origins", JSON),  # {name: {kind, url, commit, editable, site}}: where each came from
    Column("interpreter", Text),  # the interpreter's path, and the one a venv was made from
    Column("base_interpreter", Text),
    Column("weir_version", String(64)),
)
