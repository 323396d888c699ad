"""Data ownership: a tenant exported as JSON Lines and imported into another database.

`records` defines the format, `exporter` writes it, `reader` and `columns` read and check it,
`importer` (with `loader`) writes it back, resumably. docs/backup.md describes it for users.
"""
