"""Workflow configuration: schema validation, semantic checks, per-task settings."""
