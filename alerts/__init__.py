"""News out: watchlists → matcher → alerts → outbox → channels."""
