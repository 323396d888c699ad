"""Demo data: a pure generator (`generator`) and its loader into a database (`loader`)."""
