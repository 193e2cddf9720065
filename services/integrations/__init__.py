"""Steward inside other frameworks, over its HTTP API only (through services.client): no server code."""
