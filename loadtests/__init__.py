"""Load tests: wire-protocol clients in separate processes, and one command per scenario."""
