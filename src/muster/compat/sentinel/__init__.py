"""The Microsoft Sentinel-compatible API (muster.compat.sentinel.app)."""
