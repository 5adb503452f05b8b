"""Lists the packages of the three source roots that pyproject.toml maps onto `videoforge`."""

from setuptools import find_packages, setup

ROOTS = {"videoforge": "services/videoforge", "videoforge.gateway": "gateway", "videoforge.packager": "packager"}

packages = [
    f"{name}.{sub}" if sub else name
    for name, folder in ROOTS.items()
    for sub in ["", *find_packages(folder)]
]
setup(packages=packages)
