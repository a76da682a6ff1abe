"""Celery app and thin tasks that schedule the `pipeline` stages."""
