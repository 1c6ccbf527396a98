"""CLI subcommands. Each module imports only click and the stdlib at top level (fast start)."""
