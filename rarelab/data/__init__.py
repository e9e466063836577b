"""Data: datasets with the torchvision interface, image files, and the paper's split.

Datasets carry data only (``classes``, ``targets`` where known, ``load_images``), as
torchvision's ``DatasetFolder`` does; how features are computed is :mod:`rarelab.features`'
business.

* In memory: :class:`ArrayDataset` (``synth_signs``, ``gtsrb``, ``digits``).
* On disk: :class:`FileDataset` (``image_folder``, ``image_manifest``), decoded on demand; a
  pool of your own files has no ``targets``.
* :func:`rare_class_split` builds the paper's protocol as a :class:`Split`.
"""

from ..utils import Registry, param_error
from ._array import ArrayDataset
from ._checks import check_decodable, drop_undecodable, find_undecodable
from ._classes import (
    class_hint,
    class_key,
    clean_name,
    find_class,
    match_class,
    resolve_classes,
    resolve_rare_classes,
    split_class_names,
)
from ._decode import DECODER_VERSION, UndecodableImage, decode_image, iter_decoded, load_images
from ._demo_folders import DemoFolders, write_demo_folders
from ._digits import digits
from ._files import FileDataset
from ._folders import class_folders, image_folder, image_manifest
from ._gtsrb import GTSRB_CLASSES, gtsrb, gtsrb_templates
from ._splits import Split, rare_class_split, rarest_classes
from ._synth_signs import render_sign, render_template, synth_signs
from ._tables import (
    PathIndex,
    Table,
    TableError,
    column_key,
    image_sources,
    read_manifest,
    read_path_list,
    read_table,
    table_paths,
)
from ._walk import IMAGE_SUFFIXES, FileKey, Walk, is_image, list_images, skip_reason, walk_images

_REGISTRY = Registry("dataset", owner="get_dataset")
for _fn in (synth_signs, gtsrb, digits, image_folder):
    _REGISTRY.register(_fn.__name__, _fn)
_REGISTRY.register("manifest", image_manifest)
_NEEDS_ROOT = ("gtsrb", "image_folder", "manifest")


def get_dataset(name: str, *, root=None, **params):
    """The dataset ``name`` (see :func:`list_datasets`); ``root`` is its path where it needs one.

    ``gtsrb`` (an .npz, the official folder layout or torchvision's download folder),
    ``image_folder`` (``root/<class>/...``) and ``manifest`` (a CSV/Parquet with
    ``path,label[,group]``) need ``root``; ``synth_signs`` and ``digits`` are made locally.
    Parameters the loader does not take raise an error naming them.
    """
    _REGISTRY.check(name)
    if name in _NEEDS_ROOT:
        if root is None:
            raise param_error(
                "get_dataset",
                "root",
                f"a path for the {name} dataset",
                None,
                "Pass --root PATH (an .npz, a folder or a manifest).",
            )
        return _REGISTRY.get(name, root, **params)
    if root is not None:
        raise param_error("get_dataset", "root", f"None: {name} is made locally", root)
    return _REGISTRY.get(name, **params)


def list_datasets() -> tuple[str, ...]:
    """Names :func:`get_dataset` knows."""
    return _REGISTRY.names()


def dataset_summary(name: str) -> str:
    """The first line of a dataset loader's docstring (``rarelab list datasets``)."""
    return _REGISTRY.summary(name)


__all__ = [
    "DECODER_VERSION",
    "UndecodableImage",
    "check_decodable",
    "drop_undecodable",
    "find_undecodable",
    "GTSRB_CLASSES",
    "IMAGE_SUFFIXES",
    "ArrayDataset",
    "DemoFolders",
    "FileDataset",
    "FileKey",
    "PathIndex",
    "Split",
    "Table",
    "TableError",
    "class_folders",
    "class_hint",
    "class_key",
    "clean_name",
    "column_key",
    "dataset_summary",
    "decode_image",
    "digits",
    "find_class",
    "get_dataset",
    "gtsrb",
    "gtsrb_templates",
    "image_folder",
    "image_manifest",
    "image_sources",
    "is_image",
    "iter_decoded",
    "list_datasets",
    "list_images",
    "skip_reason",
    "walk_images",
    "Walk",
    "load_images",
    "match_class",
    "rare_class_split",
    "rarest_classes",
    "read_manifest",
    "read_path_list",
    "read_table",
    "render_sign",
    "render_template",
    "resolve_classes",
    "resolve_rare_classes",
    "split_class_names",
    "synth_signs",
    "table_paths",
    "write_demo_folders",
]
