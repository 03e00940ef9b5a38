"""``python -m unmetneed`` runs the command line."""

from unmetneed.cli import main

main()
