"""Authentication shared by the REST API (which issues tokens) and the table servers."""
