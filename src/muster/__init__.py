"""muster: a multi-tenant security incident service. Alerts in, incidents out."""

__version__ = "0.1.0"
