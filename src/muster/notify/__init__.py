"""Notifications: events derived from the timeline, delivered as signed webhooks and e-mail."""
