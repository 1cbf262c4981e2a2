"""The artwork cache: item images as files on disk (``GetArtwork``, the ``*_path`` item keys).

``store`` keeps the files, ``remote`` and ``sidecars`` find images on servers and beside local
files, ``service`` answers for them and ``prefetch`` fetches posters and backdrops after syncs.
"""
