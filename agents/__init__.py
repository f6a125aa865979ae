"""Agents that solve natgym environments (depend on natgym, never the other way round)."""
