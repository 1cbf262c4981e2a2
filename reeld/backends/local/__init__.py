"""Local folders: a folder of video files as a source (``backend.LocalBackend``)."""
