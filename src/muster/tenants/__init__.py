"""Tenants, their users (memberships) and their API keys."""
