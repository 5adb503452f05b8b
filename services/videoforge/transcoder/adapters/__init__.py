"""Adapters to the external binaries the transcoder drives."""
