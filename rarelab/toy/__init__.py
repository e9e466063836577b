"""The paper's 2-D Gaussian toy model (Sec. V, Fig. 5): why P(rare) is tiny everywhere yet
ranks the rare cluster first."""

from ._figures import toy_figure
from ._model import MEANS, RARE, LinearSoftmax, ToyData, ToyResult, make_toy_data, run_toy_model

__all__ = ["MEANS", "RARE", "LinearSoftmax", "ToyData", "ToyResult", "make_toy_data", "run_toy_model", "toy_figure"]
