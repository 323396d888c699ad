"""Alert grouping: ordered per-tenant rules and the pure `decide` that applies them."""
