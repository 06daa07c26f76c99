"""``python -m assetflow`` runs the command line."""

from assetflow.cli import run

run()
