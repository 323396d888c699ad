"""SLAs: per-tenant policies, due times and states (pure), the scheduler that raises events."""
