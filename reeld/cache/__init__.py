"""The offline-first SQLite cache: schema, connection, reads and writes."""
