"""Datasets with the torchvision interface: ``(image, target)`` items, ``classes``, ``targets``."""

from ._base import ArrayDataset
from .demo_folders import DemoFolders, write_demo_folders
from .digits import digits
from .files import FileDataset, GroundTruthUnavailable
from .gtsrb import GTSRB_CLASSES, gtsrb, gtsrb_templates
from .image_folder import image_folder, image_manifest
from .synth_signs import synth_signs

DATASETS = {
    "synth_signs": synth_signs,
    "gtsrb": gtsrb,
    "digits": digits,
    "image_folder": image_folder,
    "manifest": image_manifest,
}


def load_dataset(name: str, *, root=None, **kwargs) -> ArrayDataset:
    """Load a dataset by name: ``synth_signs``, ``gtsrb``, ``digits``, ``image_folder`` or ``manifest``."""
    from .._validation import param_error

    if name not in DATASETS:
        raise param_error("load_dataset", "name", f"one of {sorted(DATASETS)}", name)
    if name in ("gtsrb", "image_folder", "manifest"):
        if root is None:
            raise param_error(
                "load_dataset",
                "root",
                f"a path for the {name} dataset",
                None,
                "Pass --root PATH (an .npz, a folder or a manifest).",
            )
        return DATASETS[name](root, **kwargs)
    return DATASETS[name](**kwargs)


__all__ = [
    "ArrayDataset",
    "DATASETS",
    "DemoFolders",
    "FileDataset",
    "GroundTruthUnavailable",
    "write_demo_folders",
    "GTSRB_CLASSES",
    "digits",
    "gtsrb",
    "gtsrb_templates",
    "image_folder",
    "image_manifest",
    "load_dataset",
    "synth_signs",
]
