"""Incidents: lifecycle rules, data access and the services the shells call."""
