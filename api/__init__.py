"""The doors into sohoa: the HTTP API (FastAPI) and the `sohoa` command line."""
