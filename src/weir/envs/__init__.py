"""Environments: the exact Python and package set every run used."""
