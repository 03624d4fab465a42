"""Use cases: each module takes an AsyncSession (and the ports it needs) and does one job.

Errors raised here come from `holdem.services.errors` (the tree of `holdem.errors`, stable
codes); transports map them to their own outcomes in one table each (the REST API:
`functions.api.errors`).
"""
