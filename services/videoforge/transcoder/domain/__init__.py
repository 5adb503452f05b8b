"""Plain-Python rules of media: what a source is, what we accept, and which renditions it gets."""
