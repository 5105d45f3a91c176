"""PostgreSQL repositories (asyncpg) and the SQL migrations."""
