"""Notebook widgets: thin views over the headless core (``ActiveLoop``, plots, projections).

Every button, key or selection calls a core function that a script can call too.
"""

from ._gallery import CandidateGallery
from ._projection import ProjectionView
from ._selection import in_selections, path_polygons
from ._stepper import LoopStepper
from ._toy import ToyExplorer

__all__ = ["CandidateGallery", "LoopStepper", "ProjectionView", "ToyExplorer", "in_selections", "path_polygons"]
