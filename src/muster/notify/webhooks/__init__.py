"""Webhooks: per-tenant subscriptions, signed deliveries from the job table, a delivery log."""
