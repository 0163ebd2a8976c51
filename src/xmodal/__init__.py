"""xmodal: contrastive embeddings for multimodal retrieval.

Learn them (``xmodal.losses``), measure them and search with them. See ``DESIGN.md`` in the
project's shared folder for the map of the stages.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
