"""Jobs: the durable queue (`jobs`) and the worker loop that claims and runs them."""
