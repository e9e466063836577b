"""Features: backbones, embedding, and the caches that make rounds fast.

* :func:`get_backbone` / :func:`list_backbones`: ImageNet backbones split into ``embed``
  (penultimate features) and ``head``; :func:`split_backbone` cuts one into a frozen trunk
  and a trainable tail.
* :func:`embed_images`, :func:`cached_features`: features of in-memory images, the array
  cache keyed by the dataset's pixels.
* :class:`FeatureStore`: features of image files, chunked, resumable, keyed by path + size +
  mtime; filled by an engine (:func:`get_engine`: ``local`` or ``ray``).
* :class:`ActivationCache`: the trunk's activations with augmented views, for partial
  fine-tuning.
* :func:`feature_source`: one entry point a learner asks for its features.
"""

from ._activations import ActivationCache, augment_view
from ._backbones import DEFAULT_INPUT_SIZE, Classifier, SmallCNN, get_backbone, list_backbones
from ._embed import cached_features, embed_images
from ._engines import get_engine, list_engines, local_batches
from ._ray import ray_batches
from ._sources import FileFeatures, feature_source
from ._store import FAILED, MISSING, ArrayFeatures, ExtractionReport, FeatureStore, StoreFeatures
from ._surgery import split_backbone

__all__ = [
    "DEFAULT_INPUT_SIZE",
    "FAILED",
    "MISSING",
    "ActivationCache",
    "ArrayFeatures",
    "Classifier",
    "ExtractionReport",
    "FeatureStore",
    "FileFeatures",
    "SmallCNN",
    "StoreFeatures",
    "augment_view",
    "cached_features",
    "embed_images",
    "feature_source",
    "get_backbone",
    "get_engine",
    "list_backbones",
    "list_engines",
    "local_batches",
    "ray_batches",
    "split_backbone",
]
