"""imagedataextractor: particle statistics from electron-microscopy figures.

Importing the package is cheap: heavy dependencies (torch, OpenCV) load when a stage runs.
"""

import logging

__version__ = "3.0.0.dev0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
