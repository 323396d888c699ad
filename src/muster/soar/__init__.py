"""SOAR: processes that run playbooks on incidents, durably (DESIGN.md §1, §2)."""
