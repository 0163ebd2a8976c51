"""The ``xmodal`` command line."""

from __future__ import annotations

import typer

from . import __version__

app = typer.Typer(
    help="xmodal: contrastive embeddings for multimodal retrieval.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """xmodal: contrastive embeddings for multimodal retrieval."""


@app.command()
def version() -> None:
    """Print the installed xmodal version."""
    typer.echo(__version__)
