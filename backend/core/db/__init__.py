"""PostgreSQL, the system of record: engine, migrations, health. See engine.py."""
