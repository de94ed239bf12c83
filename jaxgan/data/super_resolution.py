"""Super-resolution data: checking given LR/HR pairs.

Layouts (see `registry`): ``hr`` (high-resolution images only; the training step makes each LR input by
antialiased bicubic downsampling) and ``lr_hr`` (given pairs: a folder's ``HR/`` and ``LR/`` sub-folders
with matching file names, or a TFDS set's ``hr`` and ``lr`` features, e.g. ``div2k/bicubic_x4``).
"""
from __future__ import annotations

import logging

from PIL import Image

from jaxgan.data.sources import FolderSource
from jaxgan.errors import DataError

log = logging.getLogger(__name__)


def keep_usable_pairs(source: FolderSource, scale: int, hr_size: int) -> FolderSource:
    """Drops (with a warning) LR/HR file pairs whose sizes are not ``scale`` apart or are too small."""
    def usable(lr_path: str, hr_path: str) -> bool:
        with Image.open(lr_path) as lr, Image.open(hr_path) as hr:
            (lw, lh), (hw, hh) = lr.size, hr.size
        return hw >= scale * lw and hh >= scale * lh and hw < scale * (lw + 1) and hh < scale * (lh + 1) \
            and min(hw, hh) >= hr_size
    kept = [item for item in source.items if usable(*item)]
    if len(kept) < len(source.items):
        log.warning("skipped %d LR/HR pair(s) whose sizes are not x%d apart or smaller than %d HR pixels",
                    len(source.items) - len(kept), scale, hr_size)
    if not kept:
        raise DataError(f"no usable x{scale} LR/HR pairs (of at least {hr_size} HR pixels) in the data folder")
    source.items, source.num = kept, len(kept)
    return source
