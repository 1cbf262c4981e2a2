"""The artwork cache: item images as files on disk (``GetArtwork``, the ``*_path`` item keys)."""

from reeld.artwork.service import Artwork
from reeld.artwork.store import KINDS, ArtworkStore

__all__ = ["KINDS", "Artwork", "ArtworkStore"]
