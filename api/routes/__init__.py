"""One module per part of the API; `api.app.create_app` mounts them all."""
