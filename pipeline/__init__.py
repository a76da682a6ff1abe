"""Pure processing stages: plain functions on typed values.

No Celery, no HTTP, no settings lookups: a stage gets what it needs as
arguments, so it can be tested on its own and called by the CLI (`sohoa
process`) and the Celery workers alike. Read the stages in order:
intake -> rasterise -> preprocess -> ocr -> classify -> extract -> assemble.
"""
