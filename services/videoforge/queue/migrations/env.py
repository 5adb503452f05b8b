from videoforge.kit.alembic_env import run_migrations

run_migrations()
