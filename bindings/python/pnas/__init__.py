# SPDX-License-Identifier: MIT
"""libpnas for Python: hardware-aware neural architecture search (ProxylessNAS).

A ctypes binding of the C library ``libpnas.so.1`` with numpy arrays for
batches, logits, alpha and weights. The library is found through the
``PNAS_LIBRARY`` environment variable (a path), else a build tree beside the
source checkout, else an installed copy; its version is checked at import.
See docs/python.md.

    import pnas
    with pnas.Context(seed=1) as ctx:
        space = pnas.Space.load_yaml(ctx, "examples/configs/fmnist-space.yaml")
        sn = pnas.Supernet(ctx, space, max_batch=32)
        stats = sn.train_step(images, labels)   # float32 NHWC, int32
        arch = sn.derive()
"""
from ._errors import (AbiMismatchError, ClosedError, Error, FormatError, InternalError,
                      InvalidArgumentError, IOError, NotFoundError, NumericError,
                      OutOfMemoryError, ParseError, ShapeError, StateError, Status,
                      UnsupportedError, WrongHandleError)
from ._core import Context, LogLevel, lr_cosine, status_string, version, version_string
from ._types import (ArchInfo, ArchMode, BlockInfo, BlockKind, DatasetInfo, ForwardMode,
                     LatencyPart, LatencyQuery, LossForm, Op, OpKind, SearchStats, SpaceInfo,
                     StepStats, SupernetInfo)
from ._objects import Arch, Batcher, Dataset, Net, Space
from ._search import LatencyModel, Supernet, cross_entropy

#: The version of this package (it follows the library's).
__version__ = "1.0.0"

__all__ = [
    "AbiMismatchError", "Arch", "ArchInfo", "ArchMode", "Batcher", "BlockInfo", "BlockKind",
    "ClosedError", "Context", "Dataset", "DatasetInfo", "Error", "FormatError",
    "ForwardMode", "IOError", "InternalError", "InvalidArgumentError", "LatencyModel",
    "LatencyPart", "LatencyQuery", "LogLevel", "LossForm", "Net", "NotFoundError",
    "NumericError", "Op", "OpKind", "OutOfMemoryError", "ParseError", "SearchStats",
    "ShapeError", "Space", "SpaceInfo", "StateError", "Status", "StepStats", "Supernet",
    "SupernetInfo", "UnsupportedError", "WrongHandleError", "cross_entropy", "lr_cosine",
    "status_string", "version", "version_string",
]

for _name in __all__:
    if isinstance(globals()[_name], type):
        globals()[_name].__module__ = "pnas"   # reprs and pickles name pnas.X
del _name
