"""The analyst's web console: server-rendered pages (Jinja2 + htmx) over the same services."""
