"""Data sets by name: each registered source says which layouts it reads and builds the source for a split.

``config.data.source`` names a registered source and ``config.data.layout`` how its files are laid out
(``""``: the source's own default, its first layout). A layout fixes the fields a source yields:

| layout | fields |
|---|---|
| single | image (+ label where the data set has one) |
| paired, side_by_side, two_folders | A, B (the same scene in two domains) |
| unpaired | A, B (independently shuffled) |
| hr / lr_hr | hr / lr + hr (super-resolution, images at their own size) |
| domains | image + domain (one-hot over ``data.domains``: one domain per image) |
| attributes | image + domain (multi-hot over ``data.attributes``, e.g. CelebA's) |
| captions | image + caption (word ids of up to ``data.max_captions`` captions) + caption_count |

Adding a data set is one `register` call; the pipeline and the recipes name no data set.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Iterable

import ml_collections
import numpy as np

from jaxgan import text
from jaxgan.data import embedded, folders, prepared
from jaxgan.data.captions import read_captioned, read_embeddings
from jaxgan.data.sources import ArraySource, FolderSource, ImageListSource, Source, UnpairedSource
from jaxgan.data.tfds import TFDSSource, tfds_builder
from jaxgan.errors import DataError

LAYOUTS = ("single", "paired", "side_by_side", "two_folders", "unpaired", "hr", "lr_hr", "domains", "attributes",
           "captions")
#: ``build(config, split, size, layout)``; ``size`` 0 keeps each image at its own size
Builder = Callable[[ml_collections.ConfigDict, str, int, str], Source]
#: ``domains(config)``: the domain names a source's ``domains`` layout finds, in label order
DomainLister = Callable[[ml_collections.ConfigDict], tuple[str, ...]]
#: ``captions(config)``: every caption of a ``captions`` layout's training split (to build the vocabulary)
CaptionLister = Callable[[ml_collections.ConfigDict], Iterable[str]]
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Registered:
    layouts: tuple[str, ...]
    build: Builder
    domains: DomainLister | None = None
    captions: CaptionLister | None = None
    #: ``vocabulary(config)``: the words a source's captions are already encoded with (a prepared set)
    vocabulary: Callable[[ml_collections.ConfigDict], tuple[str, ...]] | None = None
    #: ``default_layout(data)``: the layout ``data.layout=""`` means, where it depends on the data
    default_layout: Callable[[ml_collections.ConfigDict], str] | None = None
    #: ``held_out(data)``: whether ``data.eval_split`` holds other examples than the training split
    held_out: Callable[[ml_collections.ConfigDict], bool] = lambda data: True


SOURCES: dict[str, Registered] = {}


def register(name: str, layouts: tuple[str, ...], domains: DomainLister | None = None,
             captions: CaptionLister | None = None, **hooks: Any) -> Callable[[Builder], Builder]:
    """Registers ``build`` as the data source ``name`` reading ``layouts`` (the first is its default,
    unless a ``default_layout`` hook says); a source with a ``domains`` layout also says how it finds its
    domain names, one with ``captions`` how it lists its training captions (or, with a ``vocabulary``
    hook, the words they are encoded with)."""
    def decorate(build: Builder) -> Builder:
        SOURCES[name] = Registered(layouts, build, domains, captions, **hooks)
        return build
    return decorate


def layout_of(data: ml_collections.ConfigDict) -> str:
    """The layout ``data`` asks for (its source's default when ``data.layout`` is empty)."""
    registered = SOURCES.get(data.source)
    if registered is None:
        raise DataError(f"unknown data.source {data.source!r}; choose one of {', '.join(SOURCES)}")
    default = registered.default_layout(data) if registered.default_layout else registered.layouts[0]
    layout = data.get("layout", "") or default
    if layout not in registered.layouts:
        raise DataError(f"data.source={data.source} has no layout {layout!r}; choose one of "
                        f"{', '.join(registered.layouts)}")
    return layout


def domain_names(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The names of the labels a ``domains`` or ``attributes`` layout gives each image, in label order:
    ``data.attributes``, or ``data.domains`` where set, else the domains the source finds (a folder:
    its sub-folders, sorted)."""
    layout = layout_of(config.data)
    if layout == "attributes":
        names = tuple(config.data.get("attributes", ()))
    elif layout == "domains":
        names = tuple(config.data.get("domains", ())) or SOURCES[config.data.source].domains(config)
    else:
        raise DataError(f"this recipe needs images labelled by domain: data.layout=domains (one sub-folder per "
                        f"domain) or attributes, not {layout}")
    if len(names) < 2:
        raise DataError(f"need at least two domains to translate between, got {len(names)}: {', '.join(names) or 'none'}")
    if len(set(names)) != len(names):
        raise DataError(f"domain names repeat: {', '.join(names)}")
    return names


def vocabulary(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The words a ``captions`` layout encodes: ``data.vocabulary``, or where empty the
    ``data.vocabulary_size`` most frequent words of the training captions."""
    data = config.data
    if data.get("vocabulary"):
        return tuple(data.vocabulary)
    registered = SOURCES[data.source]
    if registered.vocabulary is not None:
        return registered.vocabulary(config)
    words = text.build_vocabulary(SOURCES[data.source].captions(config), int(data.vocabulary_size))
    if not words:
        raise DataError("the training captions hold no words")
    return words


def resolve(config: ml_collections.ConfigDict, recorded: ml_collections.ConfigDict | None = None
            ) -> ml_collections.ConfigDict:
    """``config`` with what the data decides filled in, so the run records it (infer.py then needs no
    data): the domain names of a ``domains`` layout left empty, the vocabulary of a ``captions`` one.
    A resumed run keeps what its ``recorded`` config decided (its networks were built for it)."""
    data = config.data
    layout = layout_of(data)
    found = {"domains": lambda: domain_names(config), "vocabulary": lambda: vocabulary(config)}
    wanted = {"domains": layout == "domains",
              "vocabulary": layout == "captions" and not data.get("embeddings")}
    for field, find in found.items():
        if wanted[field] and field in data and not data[field]:
            before = recorded.data.get(field) if recorded is not None and "data" in recorded else None
            config = ml_collections.ConfigDict(config.to_dict())
            config.data[field] = tuple(before) if before else find()
    return config


def _caption_table(config: ml_collections.ConfigDict, captions: list[list[str]]) -> dict[str, np.ndarray]:
    d = config.data
    return text.caption_table(captions, vocabulary(config), int(d.max_captions), int(d.max_words))


def has_held_out(data: ml_collections.ConfigDict) -> bool:
    """Whether ``data`` has a held-out split to evaluate on (a plain folder has none)."""
    return SOURCES[data.source].held_out(data)


def make_source(config: ml_collections.ConfigDict, split: str, size: int) -> Source:
    """The source ``config.data`` names, for ``split``, with images at ``size`` (0: their own size)."""
    layout = layout_of(config.data)
    return SOURCES[config.data.source].build(config, split, size, layout)


# ------------------------------------------------------------------------------ embedded (no network)
@register("digits", ("single",))
def _digits(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    return ArraySource(embedded.load_embedded("digits", split, size))


@register("faces", ("single",))
def _faces(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    return ArraySource(embedded.load_embedded("faces", split, size))


@register("grey2photo", ("paired",))
def _grey2photo(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    pairs = embedded.load_paired("grey2photo", split, size)
    return ImageListSource(pairs) if not size else ArraySource(pairs)


@register("photo2sketch", ("unpaired",))
def _photo2sketch(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    a, b = embedded.load_unpaired("photo2sketch", split, size)
    return UnpairedSource(ArraySource({"image": a}), ArraySource({"image": b}))


@register("digit_styles", ("domains",), domains=lambda config: embedded.DIGIT_STYLES)
def _digit_styles(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    return ArraySource(embedded.load_domains("digit_styles", split, size))


def _coloured_digit_captions(config: ml_collections.ConfigDict) -> list[str]:
    return [c for captions in embedded.load_captioned("coloured_digits", "train", 8)["captions"] for c in captions]


@register("coloured_digits", ("captions",), captions=_coloured_digit_captions)
def _coloured_digits(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    loaded = embedded.load_captioned("coloured_digits", split, size)
    return ArraySource({"image": loaded["image"], **_caption_table(config, loaded["captions"]),
                        "digit": loaded["digit"], "colour": loaded["colour"]})


@register("photos", ("hr",))
def _photos(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    names = embedded.super_resolution_photos(embedded.check_split(split))
    return ImageListSource({"hr": [embedded.rgb_photo(name) for name in names]})


# ------------------------------------------------------------------------------------- your own data
def _folder_source(config: ml_collections.ConfigDict, listing: folders.Listing, size: int,
                   channels: int | None = None) -> FolderSource:
    data = config.data
    return FolderSource(listing, size, data.channels if channels is None else channels, data.resize)


def _folder_single(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/... (every image, recursively; no held-out split)."""
    return _folder_source(config, folders.single(folders.check_folder(config.data.path), cache), size)


def _folder_domains(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/<domain>/..., or root/<split>/<domain>/..."""
    where = folders.split_root(config.data, split)
    return _folder_source(config, folders.domains(where, domain_names(config), cache), size)


def _folder_captions(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/... or root/<split>/...: image.txt beside image.png, or a manifest; or pre-computed sentence
    embeddings (``data.embeddings``) in place of captions."""
    data = config.data
    where = folders.split_root(data, split)
    if data.get("embeddings"):
        files, table = read_embeddings(where, data.embeddings)
    else:
        files, texts = read_captioned(where)
        table = _caption_table(config, texts)
    return _folder_source(config, folders.listed(where if where.is_dir() else where.parent, files, table, cache), size)


def _folder_unpaired(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/trainA, root/trainB, root/testA, root/testB."""
    root = folders.check_folder(config.data.path)
    return UnpairedSource(*(_folder_source(config, folders.single(root / f"{split}{side}", cache), size)
                            for side in "AB"))


def _folder_two_folders(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/A/<split>/x.png and root/B/<split>/x.png."""
    root = folders.check_folder(config.data.path)
    pair = (root / "A" / split, root / "B" / split)
    if not all(p.is_dir() for p in pair):
        raise DataError(f"two_folders layout needs {pair[0]} and {pair[1]}")
    return _folder_source(config, folders.two_folders(*pair, cache), size)


def _folder_side_by_side(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/<split>/... of A|B images (the pix2pix sets)."""
    root = folders.check_folder(config.data.path)
    for names, other in ((("A", "B"), "two_folders"), ((f"{split}A", f"{split}B"), "unpaired")):
        if all((root / n).is_dir() for n in names):
            raise DataError(f"{root} holds {names[0]}/ and {names[1]}/ folders: that is data.layout={other} "
                            f"(side_by_side reads A|B halves of single images)")
    return _folder_source(config, folders.side_by_side(folders.split_root(config.data, split), cache), size)


def _folder_hr(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/<split>/... of high-resolution images (super-resolution: each at its own size)."""
    return _folder_source(config, folders.single(folders.split_root(config.data, split), cache, "hr"), 0, 3)


def _folder_lr_hr(config: ml_collections.ConfigDict, split: str, size: int, cache: str) -> Source:
    """root/<split>/LR and root/<split>/HR with matching file names; training pairs of at least
    ``image_size``."""
    root = folders.split_root(config.data, split)
    lr_root, hr_root = root / "LR", root / "HR"
    if not (lr_root.is_dir() and hr_root.is_dir()):
        raise DataError(f"data.layout=lr_hr needs {hr_root} and {lr_root} with matching file names")
    training = split == config.data.split
    pairs = folders.usable_pairs(folders.two_folders(lr_root, hr_root, cache, ("lr", "hr")), config.scale,
                                 config.image_size if training else 0)
    return _folder_source(config, pairs, 0, 3)


#: ``{layout: build(config, split, size, index cache)}`` of the folder source, its default first
FOLDER_LAYOUTS = {"single": _folder_single, "side_by_side": _folder_side_by_side, "two_folders": _folder_two_folders,
                  "unpaired": _folder_unpaired, "hr": _folder_hr, "lr_hr": _folder_lr_hr, "domains": _folder_domains,
                  "captions": _folder_captions}


def _folder_caption_texts(config: ml_collections.ConfigDict) -> list[str]:
    return [c for texts in read_captioned(folders.split_root(config.data, config.data.split))[1] for c in texts]


@register("folder", tuple(FOLDER_LAYOUTS), domains=lambda config: folders.domain_folders(config.data),
          captions=_folder_caption_texts, held_out=lambda data: layout_of(data) != "single")
def _folder(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    folders.check_folder(config.data.path)
    return FOLDER_LAYOUTS[layout](config, split, size, config.data.get("index_cache", "auto"))


@register("prepared", LAYOUTS, domains=lambda config: prepared.recorded(config, "domains"),
          vocabulary=lambda config: prepared.recorded(config, "vocabulary"), default_layout=prepared.layout,
          held_out=prepared.has_split)
def _prepared(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    return prepared.source(config, split, size, layout)


def _tfds_captions(config: ml_collections.ConfigDict) -> Iterable[str]:
    d = config.data
    return TFDSSource(d.name, d.split, d.data_dir, 0, d.resize, d.download, 1).caption_texts()


@register("tfds", ("single", "unpaired", "hr", "lr_hr", "attributes", "captions"), captions=_tfds_captions)
def _tfds(config: ml_collections.ConfigDict, split: str, size: int, layout: str) -> Source:
    data = config.data
    if not data.name:
        raise DataError("data.source=tfds needs --config.data.name (e.g. mnist, cycle_gan/horse2zebra, "
                        "div2k/bicubic_x4)")

    def tfds_split(name: str, features: dict[str, str] | None = None, attributes: tuple[str, ...] = ()
                   ) -> TFDSSource:
        return TFDSSource(data.name, name, data.data_dir, size, data.resize, data.download, data.shuffle_buffer,
                          features, attributes)

    if layout == "unpaired":          # e.g. cycle_gan/horse2zebra: trainA, trainB, testA, testB
        return UnpairedSource(tfds_split(f"{split}A"), tfds_split(f"{split}B"))
    if layout == "attributes":        # e.g. celeb_a: image + the chosen boolean attributes
        return tfds_split(split, attributes=domain_names(config))
    if layout == "captions":          # e.g. coco_captions: image + its captions
        return TFDSSource(data.name, split, data.data_dir, size, data.resize, data.download, data.shuffle_buffer,
                          captions=lambda texts: _caption_table(config, texts))
    if layout == "lr_hr":
        return tfds_split(split, {"lr": "lr", "hr": "hr"})
    if layout == "hr":
        return tfds_split(split, {"hr": "hr" if "hr" in _tfds_features(data) else "image"})
    return tfds_split(split)


def _tfds_features(data: ml_collections.ConfigDict) -> Any:
    return tfds_builder(data.name, data.data_dir).info.features
