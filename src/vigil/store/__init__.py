"""Where decisions are kept: the decision log protocol, its SQLite and PostgreSQL backends."""
