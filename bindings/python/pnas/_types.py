# SPDX-License-Identifier: MIT
"""Enums and plain records mirroring the C library's small structs."""
import ctypes
import dataclasses
import enum
import re

from . import _ffi


class BlockKind(enum.IntEnum):
    """``pnas_block_kind``: what a block of an architecture computes."""

    MBCONV = 0
    IDENTITY = 1


class OpKind(enum.IntEnum):
    """``pnas_op_kind``: a candidate op of a searched layer."""

    MBCONV = 0
    ZERO = 1


class LatencyPart(enum.IntEnum):
    """``pnas_latency_part``: the part of a network a latency query prices."""

    STEM = 0
    BLOCK = 1
    HEAD = 2
    LOGITS = 3


class ArchMode(enum.IntEnum):
    """``pnas_arch_mode``: how a gradient arch step samples ("two", "full_v2")."""

    TWO = 0
    FULL_V2 = 1


class LossForm(enum.IntEnum):
    """``pnas_loss_form``: the latency term of the arch loss ("none", "add", "mul-log", "abs")."""

    NONE = 0
    ADD = 1
    MUL_LOG = 2
    ABS = 3


class ForwardMode(enum.IntEnum):
    """The ``training`` argument of ``Supernet.forward``."""

    #: Evaluation: running BN statistics.
    EVAL = 0
    #: Training: batch statistics, running ones updated; needed before backward.
    TRAIN = 1
    #: Batch statistics without touching the running ones (evaluating one path).
    BATCH_STATS = 2


def enum_value(enum_type, value):
    """``value`` (a member, an int or a name such as "mul-log") as ``enum_type``."""
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_")
        try:
            return enum_type[key]
        except KeyError:
            names = ", ".join(m.name.lower().replace("_", "-") for m in enum_type)
            raise ValueError("unknown %s %r (expected one of: %s)"
                             % (enum_type.__name__, value, names)) from None
    return enum_type(value)


_OP_NAME = re.compile(r"mbconv(\d+)x\1_e(\d+)$")


@dataclasses.dataclass(frozen=True)
class Op:
    """A candidate op: MBConv(kernel, expand) or zero."""

    kind: OpKind
    kernel: int = 0
    expand: int = 0

    @classmethod
    def mbconv(cls, kernel, expand):
        """An MBConv candidate with a depthwise ``kernel`` and an ``expand`` ratio."""
        return cls(OpKind.MBCONV, kernel, expand)

    @classmethod
    def zero(cls):
        """The zero op (the layer becomes the identity; residual layers only)."""
        return cls(OpKind.ZERO)

    @classmethod
    def parse(cls, value):
        """An Op from an Op or a YAML name ("mbconv3x3_e6", "zero")."""
        if isinstance(value, Op):
            return value
        if value == "zero":
            return cls.zero()
        m = _OP_NAME.match(str(value))
        if not m:
            raise ValueError("unknown op %r (expected 'zero' or 'mbconvKxK_eE')" % (value,))
        return cls.mbconv(int(m.group(1)), int(m.group(2)))

    @property
    def name(self):
        """The op's name in the YAML formats ("mbconv5x5_e3", "zero")."""
        if self.kind == OpKind.ZERO:
            return "zero"
        return "mbconv%dx%d_e%d" % (self.kernel, self.kernel, self.expand)

    def to_c(self):
        """The ``pnas_op_spec`` of this op."""
        return _ffi.OpSpec(int(self.kind), self.kernel, self.expand)

    @classmethod
    def from_c(cls, spec):
        """An Op from a ``pnas_op_spec``."""
        return cls(OpKind(spec.kind), spec.kernel, spec.expand)


def _record(struct_type, doc, enums=None, extra=()):
    """A frozen dataclass with the fields of ``struct_type`` (no struct_size)."""
    fields = [(name, object) for name, _ in struct_type._fields_ if name != "struct_size"]
    fields += list(extra)
    cls = dataclasses.make_dataclass(struct_type.__name__, fields, frozen=True)
    cls.__doc__ = doc
    cls.__module__ = "pnas"
    enums = enums or {}

    def from_c(s):
        """A record from the C struct ``s``."""
        values = {}
        for name, _ in struct_type._fields_:
            if name == "struct_size":
                continue
            value = getattr(s, name)
            if name in enums:
                value = enums[name](value)
            elif hasattr(value, "_length_"):
                value = tuple(value)
            values[name] = value
        return cls(**values)

    cls.from_c = staticmethod(from_c)
    return cls


BlockInfo = _record(_ffi.BlockInfo, "One block (``pnas_block_info``): kind, channels, "
                    "kernel, expand, stride, residual, sizes, macs and params.",
                    {"kind": BlockKind})
ArchInfo = _record(_ffi.ArchInfo, "Whole-network settings and totals of an architecture "
                   "(``pnas_arch_info``).")
SpaceInfo = _record(_ffi.SpaceInfo, "The fixed parts and totals of a search space "
                    "(``pnas_space_info``).")
DatasetInfo = _record(_ffi.DatasetInfo, "Shape of a data set (``pnas_dataset_info``).")
StepStats = _record(_ffi.StepStats, "Result of a network step or evaluation: loss, "
                    "accuracy, images (``pnas_step_stats``).")
SearchStats = _record(_ffi.SearchStats, "Result of a supernet step: loss, ce_loss, "
                      "accuracy, expected_latency_ms, images (``pnas_search_stats``).")
SupernetInfo = _record(_ffi.SupernetInfo, "Sizes and step counts of a supernet "
                       "(``pnas_supernet_info``).")


@dataclasses.dataclass(frozen=True)
class LatencyQuery:
    """What a Python latency function is asked to price.

    ``part`` is the :class:`LatencyPart`, ``block`` its shape as a
    :class:`BlockInfo` (see docs/search.md for the stem, head and classifier)
    and ``key`` its key in the official latency-table format.
    """

    part: LatencyPart
    block: object
    key: str


def block_to_c(block=None, **fields):
    """A ``pnas_block_info`` from a BlockInfo (or None for the defaults) and overrides."""
    s = _ffi.BlockInfo.new()
    status = _ffi.lib.pnas_block_info_init_sized(s, ctypes.sizeof(s))
    if status != 0:
        raise ValueError("pnas_block_info_init_sized failed")
    values = dataclasses.asdict(block) if block is not None else {}
    values.update(fields)
    for name, value in values.items():
        if name not in dict(_ffi.BlockInfo._fields_) or name == "struct_size":
            raise TypeError("unknown block field %r" % (name,))
        setattr(s, name, int(value))
    return s
