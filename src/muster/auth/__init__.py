"""Credentials: API keys (hash only), passwords (argon2), principals and role checks, and the
console's login lockout."""
