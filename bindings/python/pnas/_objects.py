# SPDX-License-Identifier: MIT
"""Architectures, search spaces, data sets, batchers and networks."""
import ctypes

import numpy as np

from . import _ffi
from ._core import (_Handle, _path, fill_options, float_batch, label_batch, lib,
                    struct_dict, take)
from ._types import (ArchInfo, BlockInfo, DatasetInfo, Op, SpaceInfo, StepStats,
                     block_to_c)


def _text_bytes(text):
    """``text`` (str or bytes) as bytes."""
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


class Arch(_Handle):
    """An architecture: stem, blocks, head and classifier (``pnas_arch``).

    Build one with ``Arch(ctx, ...)`` and :meth:`append_block`, or load one
    with :meth:`load_yaml`, :meth:`parse_yaml` or :meth:`import_net_config`;
    ``Supernet.derive()`` returns one too. Keyword arguments of the
    constructor are the members of ``pnas_arch_info`` (input_height,
    input_width, input_channels, classes, stem_channels, stem_kernel,
    stem_stride, head_channels, dropout); the others keep the library's
    defaults (28x28x1, 10 classes, stem 3x3/1 to 16, head 256, dropout 0).
    """

    _destroy_name = "pnas_arch_destroy"

    def __init__(self, context, _ptr=None, **info):
        """Creates an architecture with no blocks (or wraps ``_ptr``, internal)."""
        if _ptr is None:
            s = fill_options(_ffi.ArchInfo, "pnas_arch_info_init_sized", info, "Arch")
            out = ctypes.c_void_p()
            context._check(lib.pnas_arch_create(context._h, ctypes.byref(s),
                                                ctypes.byref(out)))
            _ptr = take(out)
        super().__init__(_ptr, context, (context,))

    @classmethod
    def load_yaml(cls, context, path):
        """Loads an architecture YAML file (docs/formats.md)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_arch_load_yaml(context._h, _path(path), ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    @classmethod
    def parse_yaml(cls, context, text):
        """Parses an architecture from YAML text (str or bytes)."""
        data = _text_bytes(text)
        out = ctypes.c_void_p()
        context._check(lib.pnas_arch_parse_yaml(context._h, data, len(data),
                                                ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    @classmethod
    def import_net_config(cls, context, path, input_height=224, input_width=224):
        """Imports an official ProxylessNAS ``net.config`` (JSON) for the given input size."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_arch_import_net_config(context._h, _path(path), input_height,
                                                       input_width, ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    def append_block(self, out_channels, kernel=3, expand=1, stride=1, identity=False):
        """Appends an MBConv(kernel, expand) block, or an identity block."""
        s = block_to_c(kind=1 if identity else 0, out_channels=out_channels, kernel=kernel,
                       expand=expand, stride=stride)
        self._check(lib.pnas_arch_append_block(self._h, ctypes.byref(s)))

    def save_yaml(self, path):
        """Saves the architecture as YAML, atomically."""
        self._check(lib.pnas_arch_save_yaml(self._h, _path(path)))

    def export_net_config(self, path):
        """Writes the architecture as an official ``net.config`` JSON, atomically."""
        self._check(lib.pnas_arch_export_net_config(self._h, _path(path)))

    @property
    def info(self):
        """The whole-network settings and totals, an :class:`ArchInfo`."""
        s = _ffi.ArchInfo.new()
        self._check(lib.pnas_arch_get_info(self._h, ctypes.byref(s)))
        return ArchInfo.from_c(s)

    def block(self, index):
        """Block ``index`` as a :class:`BlockInfo` (with its shape, MACs and params)."""
        s = _ffi.BlockInfo.new()
        self._check(lib.pnas_arch_get_block(self._h, index, ctypes.byref(s)))
        return BlockInfo.from_c(s)

    @property
    def blocks(self):
        """Every block, in order, as a list of :class:`BlockInfo`."""
        return [self.block(i) for i in range(len(self))]

    def __len__(self):
        """The number of blocks."""
        return self.info.blocks


class Space(_Handle):
    """A search space (``pnas_space``): fixed parts and stages of searched layers.

    ``Space(ctx, **info)`` starts an empty space from the paper's ImageNet
    defaults changed by the keyword arguments (members of
    ``pnas_space_info``); add stages with :meth:`add_stage`. Or use
    :meth:`load_yaml`, :meth:`parse_yaml` or :meth:`default`.
    """

    _destroy_name = "pnas_space_destroy"

    def __init__(self, context, _ptr=None, **info):
        """Creates a space with no stages (or wraps ``_ptr``, internal)."""
        if _ptr is None:
            s = fill_options(_ffi.SpaceInfo, "pnas_space_info_init_sized", info, "Space")
            out = ctypes.c_void_p()
            context._check(lib.pnas_space_create(context._h, ctypes.byref(s),
                                                 ctypes.byref(out)))
            _ptr = take(out)
        super().__init__(_ptr, context, (context,))

    @classmethod
    def default(cls, context):
        """The paper's ImageNet space (21 searched layers)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_space_create_default(context._h, ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    @classmethod
    def load_yaml(cls, context, path):
        """Loads a space YAML file (docs/formats.md)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_space_load_yaml(context._h, _path(path), ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    @classmethod
    def parse_yaml(cls, context, text):
        """Parses a space from YAML text (str or bytes)."""
        data = _text_bytes(text)
        out = ctypes.c_void_p()
        context._check(lib.pnas_space_parse_yaml(context._h, data, len(data),
                                                 ctypes.byref(out)))
        return cls(context, _ptr=take(out))

    def add_stage(self, width, depth, stride, ops, zero_on_first=False):
        """Appends a stage of ``depth`` layers with candidates ``ops``.

        ``ops`` holds :class:`Op` values or names ("mbconv3x3_e3", "zero").
        """
        specs = [Op.parse(op).to_c() for op in ops]
        array = (_ffi.OpSpec * max(len(specs), 1))(*specs)
        self._check(lib.pnas_space_add_stage(self._h, width, depth, stride, array, len(specs),
                                             1 if zero_on_first else 0))

    def save_yaml(self, path):
        """Saves the space as YAML, atomically."""
        self._check(lib.pnas_space_save_yaml(self._h, _path(path)))

    @property
    def info(self):
        """The fixed parts and totals, a :class:`SpaceInfo`."""
        s = _ffi.SpaceInfo.new()
        self._check(lib.pnas_space_get_info(self._h, ctypes.byref(s)))
        return SpaceInfo.from_c(s)

    def layer(self, index):
        """Searched layer ``index``: (its shape as a :class:`BlockInfo`, its ops)."""
        shape = _ffi.BlockInfo.new()
        count = ctypes.c_int32()
        self._check(lib.pnas_space_get_layer(self._h, index, ctypes.byref(shape), None, 0,
                                             ctypes.byref(count)))
        ops = (_ffi.OpSpec * max(count.value, 1))()
        self._check(lib.pnas_space_get_layer(self._h, index, ctypes.byref(shape), ops,
                                             count.value, ctypes.byref(count)))
        return BlockInfo.from_c(shape), [Op.from_c(ops[i]) for i in range(count.value)]

    def __len__(self):
        """The number of searched layers."""
        return self.info.layers


def _batcher_options(values, where):
    """A ``pnas_batcher_options`` from keyword values (bools become 0/1)."""
    values = {k: (int(v) if isinstance(v, bool) else v) for k, v in values.items()}
    return fill_options(_ffi.BatcherOptions, "pnas_batcher_options_init_sized", values, where)


class Dataset(_Handle):
    """Labelled 8-bit NHWC images held by the library (``pnas_dataset``)."""

    _destroy_name = "pnas_dataset_destroy"

    def __init__(self, context, _ptr):
        """Wraps a data set handle (internal: use the class methods)."""
        super().__init__(_ptr, context, (context,))

    @classmethod
    def load_idx(cls, context, images_path, labels_path):
        """Loads an IDX image file and its IDX label file (plain or gzip)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_dataset_load_idx(context._h, _path(images_path),
                                                 _path(labels_path), ctypes.byref(out)))
        return cls(context, take(out))

    @classmethod
    def load_png_folder(cls, context, root):
        """Loads ``root/<class>/<image>.png`` (one folder per class, sorted by name)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_dataset_load_png_folder(context._h, _path(root),
                                                        ctypes.byref(out)))
        return cls(context, take(out))

    @classmethod
    def from_arrays(cls, context, images, labels, classes=None):
        """Copies uint8 images (N, H, W, C) or (N, H, W) and N labels into a data set.

        ``classes`` defaults to the largest label + 1 (at least 2).
        """
        arr = np.asarray(images)
        if arr.dtype != np.uint8:
            raise TypeError("images must be a uint8 array, got dtype %s" % arr.dtype)
        if arr.ndim == 3:
            arr = arr[..., np.newaxis]
        if arr.ndim != 4 or arr.shape[0] < 1:
            raise ValueError("images must have shape (count, height, width[, channels]), "
                             "got %s" % (np.asarray(images).shape,))
        arr = np.ascontiguousarray(arr)
        lab = label_batch(labels, arr.shape[0])
        if classes is None:
            classes = max(int(lab.max()) + 1, 2)
        out = ctypes.c_void_p()
        n, h, w, ch = arr.shape
        context._check(lib.pnas_dataset_create_from_memory(context._h, arr, lab, n, h, w, ch,
                                                           classes, ctypes.byref(out)))
        return cls(context, take(out))

    def split_balanced(self, per_class):
        """Splits off ``per_class`` random images of every class: (rest, held_out)."""
        rest, held = ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.pnas_dataset_split_balanced(self._h, per_class, ctypes.byref(rest),
                                                    ctypes.byref(held)))
        return Dataset(self._context, take(rest)), Dataset(self._context, take(held))

    def subset(self, offset, count):
        """A new data set with images [offset, offset + count)."""
        out = ctypes.c_void_p()
        self._check(lib.pnas_dataset_subset(self._h, offset, count, ctypes.byref(out)))
        return Dataset(self._context, take(out))

    @property
    def info(self):
        """Count, height, width, channels and classes, a :class:`DatasetInfo`."""
        s = _ffi.DatasetInfo.new()
        self._check(lib.pnas_dataset_get_info(self._h, ctypes.byref(s)))
        return DatasetInfo.from_c(s)

    def __len__(self):
        """The number of images."""
        return self.info.count

    def batcher(self, **options):
        """A :class:`Batcher` over this data set.

        Keyword options are the members of ``pnas_batcher_options``:
        batch_size, shuffle, drop_last, crop_padding, horizontal_flip, mean,
        std (a number or up to 3 per-channel values) and seed.
        """
        return Batcher(self, **options)


class Batcher(_Handle):
    """Iterates over a :class:`Dataset` in normalised float32 NHWC batches.

    The batcher keeps its data set alive; closing the data set closes it.
    Batches are returned as new numpy arrays (copies the caller owns).
    """

    _destroy_name = "pnas_batcher_destroy"

    def __init__(self, dataset, **options):
        """Creates a batcher; see :meth:`Dataset.batcher` for the options."""
        s = _batcher_options(options, "Batcher")
        out = ctypes.c_void_p()
        dataset._check(lib.pnas_batcher_create(dataset._h, ctypes.byref(s), ctypes.byref(out)))
        super().__init__(take(out), dataset._context, (dataset,))
        info = dataset.info
        self.batch_size = s.batch_size
        self._shape = (info.height, info.width, info.channels)

    def next(self, out=None):
        """The next batch as (images float32 (n, H, W, C), labels int32 (n,)).

        The library writes the batch straight into new arrays, or into
        ``out = (images, labels)``: C-contiguous float32 (batch_size, H, W, C)
        and int32 (batch_size,) arrays to reuse, of which the first n rows
        are returned (views of them). Returns None at the end of an epoch;
        the call after that starts the next epoch. (pnas_batcher_next_view()
        is not wrapped: its buffers change at the next call, and writing
        into caller arrays costs the same single copy.)
        """
        if out is None:
            images = np.empty((self.batch_size,) + self._shape, dtype=np.float32)
            labels = np.empty(self.batch_size, dtype=np.int32)
        else:
            images, labels = out
            want = ((self.batch_size,) + self._shape, (self.batch_size,))
            for arr, dtype, shape in ((images, np.float32, want[0]),
                                      (labels, np.int32, want[1])):
                if (not isinstance(arr, np.ndarray) or arr.dtype != dtype
                        or arr.shape != shape or not arr.flags.c_contiguous
                        or not arr.flags.writeable):
                    raise ValueError("out must be writable C-contiguous arrays: float32 %s "
                                     "and int32 %s" % want)
        count = ctypes.c_int32()
        self._check(lib.pnas_batcher_next(self._h, images, labels, ctypes.byref(count)))
        if count.value == 0:
            return None
        return images[:count.value], labels[:count.value]

    def __iter__(self):
        """Yields the (images, labels) batches of one epoch."""
        while True:
            batch = self.next()
            if batch is None:
                return
            yield batch

    def reset(self):
        """Restarts the epoch."""
        self._check(lib.pnas_batcher_reset(self._h))

    @property
    def state(self):
        """Position, order and generator as bytes (settable, for checkpoints)."""
        size = ctypes.c_size_t()
        self._check(lib.pnas_batcher_get_state(self._h, None, 0, ctypes.byref(size)))
        buf = ctypes.create_string_buffer(size.value)
        self._check(lib.pnas_batcher_get_state(self._h, buf, size.value, ctypes.byref(size)))
        return buf.raw[:size.value]

    @state.setter
    def state(self, value):
        """Restores a state read from ``state``."""
        data = bytes(value)
        self._check(lib.pnas_batcher_set_state(self._h, data, len(data)))


def net_options(values, where):
    """A ``pnas_net_options`` from keyword values."""
    return fill_options(_ffi.NetOptions, "pnas_net_options_init_sized", values, where)


def sgd_options(values, where):
    """A ``pnas_sgd_options`` from keyword values (bools become 0/1)."""
    values = {k: (int(v) if isinstance(v, bool) else v) for k, v in values.items()}
    return fill_options(_ffi.SgdOptions, "pnas_sgd_options_init_sized", values, where)


class Net(_Handle):
    """A trainable network built from an architecture (``pnas_net``).

    Keyword options are the members of ``pnas_net_options``: max_batch,
    bn_momentum, bn_eps, dropout.
    """

    _destroy_name = "pnas_net_destroy"

    def __init__(self, context, arch, _ptr=None, **options):
        """Builds a network of ``arch`` (copied) with fresh weights from the context."""
        if _ptr is None:
            s = net_options(options, "Net")
            out = ctypes.c_void_p()
            context._check(lib.pnas_net_create(context._h, arch._h, ctypes.byref(s),
                                               ctypes.byref(out)))
            _ptr = take(out)
        super().__init__(_ptr, context, (context,))
        info = self.arch().info
        self.input_shape = (info.input_height, info.input_width, info.input_channels)
        self.classes = info.classes

    @classmethod
    def load(cls, context, path, **options):
        """Loads a network saved by :meth:`save`."""
        s = net_options(options, "Net.load")
        out = ctypes.c_void_p()
        context._check(lib.pnas_net_load(context._h, _path(path), ctypes.byref(s),
                                         ctypes.byref(out)))
        return cls(context, None, _ptr=take(out))

    def set_sgd(self, **options):
        """Sets the optimizer: lr, momentum, nesterov, weight_decay, no_decay_on_bn,
        label_smoothing (others keep the library's defaults)."""
        s = sgd_options(options, "Net.set_sgd")
        self._check(lib.pnas_net_set_sgd(self._h, ctypes.byref(s)))

    def set_lr(self, lr):
        """Changes only the learning rate."""
        self._check(lib.pnas_net_set_lr(self._h, lr))

    def train_step(self, images, labels):
        """One SGD step on a batch; returns its :class:`StepStats` (before the update).

        ``images`` (batch, H, W, C) float, ``labels`` (batch,) integers; both
        are read during the call only (no copy if already float32/int32
        C-contiguous).
        """
        x = float_batch(images, self.input_shape)
        y = label_batch(labels, x.shape[0])
        stats = _ffi.StepStats.new()
        self._check(lib.pnas_net_train_step(self._h, x, y, x.shape[0], ctypes.byref(stats)))
        return StepStats.from_c(stats)

    def infer(self, images):
        """Logits (batch, classes) float32 for a batch, in evaluation mode."""
        x = float_batch(images, self.input_shape)
        logits = np.empty((x.shape[0], self.classes), dtype=np.float32)
        self._check(lib.pnas_net_infer(self._h, x, x.shape[0], logits))
        return logits

    def evaluate(self, dataset, mean=None, std=None):
        """Loss and accuracy over a whole :class:`Dataset`, bytes scaled to [0, 1]
        then normalised by ``mean`` and ``std``; a :class:`StepStats`."""
        norm = _batcher_options({"mean": mean, "std": std}, "Net.evaluate")
        stats = _ffi.StepStats.new()
        self._check(lib.pnas_net_evaluate(self._h, dataset._h, ctypes.byref(norm),
                                          ctypes.byref(stats)))
        return StepStats.from_c(stats)

    def save(self, path):
        """Saves architecture, weights, statistics and optimizer state, atomically."""
        self._check(lib.pnas_net_save(self._h, _path(path)))

    def arch(self):
        """A copy of the network's architecture, a new :class:`Arch`."""
        out = ctypes.c_void_p()
        self._check(lib.pnas_net_get_arch(self._h, ctypes.byref(out)))
        return Arch(self._context, _ptr=take(out))


def default_options(struct_type, init_name):
    """The library's defaults of an options struct, as a dict."""
    return struct_dict(fill_options(struct_type, init_name, {}, init_name))

