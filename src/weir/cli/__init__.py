"""The command line: parse, call the Workspace facade, render. Nothing else."""
