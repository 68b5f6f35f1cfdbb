"""Writes of the analytics domain."""
