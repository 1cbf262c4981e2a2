"""Plain data shared by every tier: accounts, sources and media."""
