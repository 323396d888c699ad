"""The HTTP shell: app factory, dependencies, problem+json mapping and thin routes."""

from muster.api.app import create_app

__all__ = ["create_app"]
