"""Notebook widgets: thin views over the headless core (``ActiveSearch``, plots, projections).

Every button, key or selection calls a core function that a script can call too.
"""

from .gallery import CandidateGallery
from .projection import ProjectionView
from .stepper import LoopStepper
from .toy import ToyExplorer

__all__ = ["CandidateGallery", "LoopStepper", "ProjectionView", "ToyExplorer"]
