"""Lists the packages of the three source roots that pyproject.toml maps onto `videoforge`."""

from setuptools import find_namespace_packages, setup

ROOTS = {"videoforge": "services/videoforge", "videoforge.gateway": "gateway", "videoforge.packager": "packager"}

packages = [
    f"{name}.{sub}" if sub else name
    for name, folder in ROOTS.items()
    # Namespace packages too: the migration folders hold modules but no __init__.py, and must ship.
    for sub in ["", *find_namespace_packages(folder, exclude=["*__pycache__*", "node_modules*"])]
]
setup(packages=packages)
