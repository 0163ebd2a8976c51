"""``python -m xmodal``: the command line (also what ``torchrun -m xmodal`` runs)."""

from .cli import app

app()
