"""yoda-sr."""
