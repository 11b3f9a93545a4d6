"""Projects: the authoring API, weir.toml and loading a project into a validated graph."""
