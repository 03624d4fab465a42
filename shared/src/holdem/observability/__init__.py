"""Observability helpers shared by the functions and the table servers."""
