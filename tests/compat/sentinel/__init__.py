"""Tests of the Sentinel-compatible API."""
