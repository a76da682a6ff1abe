"""The record model (pydantic), its JSON Schema, and the database tables."""
