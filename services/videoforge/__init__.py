"""VideoForge: an open-source video-on-demand platform."""
