"""Tests of the compatible APIs."""
