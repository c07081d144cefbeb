"""Backups of opsgate's database: one file for SQLite or PostgreSQL (docs/operations.md)."""
