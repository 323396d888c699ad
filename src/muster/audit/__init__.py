"""The administration audit log: who changed which tenant, member, key, rule or policy."""
