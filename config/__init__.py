"""Settings and the document-type taxonomy."""
