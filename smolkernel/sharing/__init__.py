"""Sharing agents and tools: describe (to_spec), save/load folders, the Hub."""
