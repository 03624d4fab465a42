"""Pure money rules: rake, rakeback tiers, limits, amounts. Standard library only."""
