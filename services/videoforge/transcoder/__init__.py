"""The transcoder: probes sources, encodes the rendition ladder, and renders preview images."""
