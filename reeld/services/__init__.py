"""The daemon's services: accounts, sources and their coordinators, and sync."""
