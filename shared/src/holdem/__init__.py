"""The Hold'em backend's shared package, imported by the Lambdas and the table servers."""
