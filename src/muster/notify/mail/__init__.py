"""E-mail: templated notifications out over SMTP, replies and reports in over an SMTP listener."""
