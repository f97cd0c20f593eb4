# SPDX-License-Identifier: MIT
"""The C side of the binding: loading libpnas, its structs and every function.

This module is the one place that knows the C declarations of
``include/pnas/pnas.h``. ``FUNCTIONS`` lists every public function with its
return type and argument types; ``load()`` applies them to the loaded
library, so a call with a wrong argument type fails in ctypes instead of
corrupting memory. ``tests/test_ffi.py`` checks that ``FUNCTIONS`` names
exactly the ``PNAS_API`` declarations of the header.

Status-returning functions keep ``restype = c_int``: the classes of the
package turn a non-zero status into an exception with the context's message
(they need the context, which the C function does not always take).
"""
import ctypes
import ctypes.util
import glob
import os

import numpy as np

#: The header version whose struct layouts this module mirrors (1.0.0). It is
#: passed as ``abi_version`` to pnas_context_options_init_abi(), so the library
#: checks the handshake as it does for a C caller.
ABI_VERSION = 10000
#: The library major version this package works with (the SONAME number).
EXPECTED_MAJOR = ABI_VERSION // 10000
#: The file name of the library (its SONAME).
SONAME = "libpnas.so.%d" % EXPECTED_MAJOR

c_status = ctypes.c_int
c_enum = ctypes.c_int
handle = ctypes.c_void_p
handle_out = ctypes.POINTER(ctypes.c_void_p)
f32_in = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
f32_out = np.ctypeslib.ndpointer(dtype=np.float32, flags=("C_CONTIGUOUS", "WRITEABLE"))
i32_in = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
i32_out = np.ctypeslib.ndpointer(dtype=np.int32, flags=("C_CONTIGUOUS", "WRITEABLE"))
u8_in = np.ctypeslib.ndpointer(dtype=np.uint8, flags="C_CONTIGUOUS")
P = ctypes.POINTER


class Struct(ctypes.Structure):
    """A C struct; ``new()`` gives one with ``struct_size`` already set."""

    @classmethod
    def new(cls):
        """Returns a zeroed instance whose ``struct_size`` is ``sizeof`` it."""
        s = cls()
        if "struct_size" in dict(cls._fields_):
            s.struct_size = ctypes.sizeof(cls)
        return s


ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
ALIGNED_ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)


class Allocator(Struct):
    """``pnas_allocator``."""

    _fields_ = [("alloc", ALLOC_FN), ("aligned_alloc", ALIGNED_ALLOC_FN),
                ("free", FREE_FN), ("user", ctypes.c_void_p)]


class ContextOptions(Struct):
    """``pnas_context_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("abi_version", ctypes.c_uint32),
                ("threads", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("allocator", Allocator), ("log_fn", LOG_FN), ("log_user", ctypes.c_void_p),
                ("log_level", c_enum)]


class BlockInfo(Struct):
    """``pnas_block_info``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("kind", c_enum),
                ("in_channels", ctypes.c_int32), ("out_channels", ctypes.c_int32),
                ("kernel", ctypes.c_int32), ("expand", ctypes.c_int32),
                ("stride", ctypes.c_int32), ("residual", ctypes.c_int32),
                ("in_height", ctypes.c_int32), ("in_width", ctypes.c_int32),
                ("out_height", ctypes.c_int32), ("out_width", ctypes.c_int32),
                ("macs", ctypes.c_int64), ("params", ctypes.c_int64)]


class ArchInfo(Struct):
    """``pnas_arch_info``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("input_height", ctypes.c_int32),
                ("input_width", ctypes.c_int32), ("input_channels", ctypes.c_int32),
                ("classes", ctypes.c_int32), ("stem_channels", ctypes.c_int32),
                ("stem_kernel", ctypes.c_int32), ("stem_stride", ctypes.c_int32),
                ("head_channels", ctypes.c_int32), ("dropout", ctypes.c_float),
                ("blocks", ctypes.c_int32), ("macs", ctypes.c_int64),
                ("params", ctypes.c_int64)]


class DatasetInfo(Struct):
    """``pnas_dataset_info``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("count", ctypes.c_int64),
                ("height", ctypes.c_int32), ("width", ctypes.c_int32),
                ("channels", ctypes.c_int32), ("classes", ctypes.c_int32)]


class BatcherOptions(Struct):
    """``pnas_batcher_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("batch_size", ctypes.c_int32),
                ("shuffle", ctypes.c_int32), ("drop_last", ctypes.c_int32),
                ("crop_padding", ctypes.c_int32), ("horizontal_flip", ctypes.c_int32),
                ("mean", ctypes.c_float * 3), ("std", ctypes.c_float * 3),
                ("seed", ctypes.c_uint64)]


class NetOptions(Struct):
    """``pnas_net_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("max_batch", ctypes.c_int32),
                ("bn_momentum", ctypes.c_float), ("bn_eps", ctypes.c_float),
                ("dropout", ctypes.c_float)]


class SgdOptions(Struct):
    """``pnas_sgd_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("lr", ctypes.c_float),
                ("momentum", ctypes.c_float), ("nesterov", ctypes.c_int32),
                ("weight_decay", ctypes.c_float), ("no_decay_on_bn", ctypes.c_int32),
                ("label_smoothing", ctypes.c_float)]


class StepStats(Struct):
    """``pnas_step_stats``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double), ("images", ctypes.c_int64)]


class OpSpec(Struct):
    """``pnas_op_spec`` (no struct_size: its layout is frozen)."""

    _fields_ = [("kind", c_enum), ("kernel", ctypes.c_int32), ("expand", ctypes.c_int32)]


class SpaceInfo(Struct):
    """``pnas_space_info``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("input_height", ctypes.c_int32),
                ("input_width", ctypes.c_int32), ("input_channels", ctypes.c_int32),
                ("classes", ctypes.c_int32), ("stem_channels", ctypes.c_int32),
                ("stem_kernel", ctypes.c_int32), ("stem_stride", ctypes.c_int32),
                ("first_block_channels", ctypes.c_int32), ("head_channels", ctypes.c_int32),
                ("dropout", ctypes.c_float), ("stages", ctypes.c_int32),
                ("layers", ctypes.c_int32)]


class LatencyQuery(Struct):
    """``pnas_latency_query``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("part", c_enum), ("block", BlockInfo),
                ("key", ctypes.c_char_p)]


LATENCY_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, P(LatencyQuery),
                              P(ctypes.c_double))


class ProfileOptions(Struct):
    """``pnas_profile_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("batch", ctypes.c_int32),
                ("warmup", ctypes.c_int32), ("repeats", ctypes.c_int32)]


class SupernetOptions(Struct):
    """``pnas_supernet_options``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("max_batch", ctypes.c_int32),
                ("bn_momentum", ctypes.c_float), ("bn_eps", ctypes.c_float),
                ("alpha_init_std", ctypes.c_float)]


class SearchOptions(Struct):
    """``pnas_search_options`` (C's ``lambda`` is ``lambda_`` here)."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("arch_mode", c_enum),
                ("arch_lr", ctypes.c_float), ("arch_beta1", ctypes.c_float),
                ("arch_beta2", ctypes.c_float), ("arch_eps", ctypes.c_float),
                ("loss_form", c_enum), ("target_ms", ctypes.c_float),
                ("lambda_", ctypes.c_float), ("mul_log_a", ctypes.c_float),
                ("mul_log_beta", ctypes.c_float), ("skip_zero_active", ctypes.c_int32),
                ("rl_samples", ctypes.c_int32), ("rl_exponent", ctypes.c_float),
                ("rl_baseline_decay", ctypes.c_float), ("prune_threshold", ctypes.c_float),
                ("prune_patience", ctypes.c_int32)]


class SearchStats(Struct):
    """``pnas_search_stats``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("loss", ctypes.c_double),
                ("ce_loss", ctypes.c_double), ("accuracy", ctypes.c_double),
                ("expected_latency_ms", ctypes.c_double), ("images", ctypes.c_int64)]


class SupernetInfo(Struct):
    """``pnas_supernet_info``."""

    _fields_ = [("struct_size", ctypes.c_size_t), ("layers", ctypes.c_int32),
                ("candidates", ctypes.c_int32), ("params", ctypes.c_int64),
                ("weight_steps", ctypes.c_int64), ("arch_steps", ctypes.c_int64)]


#: The C structs by their C name (for the layout test).
STRUCTS = {
    "pnas_allocator": Allocator, "pnas_context_options": ContextOptions,
    "pnas_block_info": BlockInfo, "pnas_arch_info": ArchInfo,
    "pnas_dataset_info": DatasetInfo, "pnas_batcher_options": BatcherOptions,
    "pnas_net_options": NetOptions, "pnas_sgd_options": SgdOptions,
    "pnas_step_stats": StepStats, "pnas_op_spec": OpSpec, "pnas_space_info": SpaceInfo,
    "pnas_latency_query": LatencyQuery, "pnas_profile_options": ProfileOptions,
    "pnas_supernet_options": SupernetOptions, "pnas_search_options": SearchOptions,
    "pnas_search_stats": SearchStats, "pnas_supernet_info": SupernetInfo,
}

c = ctypes
#: Every public function: name -> (restype, [argtypes]). Keep in header order.
FUNCTIONS = {
    # status, version, memory
    "pnas_status_string": (c.c_char_p, [c_status]),
    "pnas_version": (c.c_uint32, []),
    "pnas_version_string": (c.c_char_p, []),
    "pnas_free": (None, [c.c_void_p]),
    # context
    "pnas_context_options_init_abi": (c_status, [P(ContextOptions), c.c_size_t, c.c_uint32]),
    "pnas_context_create": (c_status, [P(ContextOptions), handle_out, c.c_char_p, c.c_size_t]),
    "pnas_context_destroy": (None, [handle]),
    "pnas_context_last_error": (c.c_char_p, [handle]),
    "pnas_context_last_status": (c_status, [handle]),
    "pnas_context_get_threads": (c_status, [handle, P(c.c_int32)]),
    "pnas_context_set_threads": (c_status, [handle, c.c_int32]),
    "pnas_context_set_seed": (c_status, [handle, c.c_uint64]),
    "pnas_context_get_rng_state": (c_status, [handle, P(c.c_uint64)]),
    "pnas_context_set_rng_state": (c_status, [handle, P(c.c_uint64)]),
    "pnas_context_describe": (c_status, [handle, P(c.c_void_p)]),
    # architectures
    "pnas_arch_info_init_sized": (c_status, [P(ArchInfo), c.c_size_t]),
    "pnas_block_info_init_sized": (c_status, [P(BlockInfo), c.c_size_t]),
    "pnas_arch_create": (c_status, [handle, P(ArchInfo), handle_out]),
    "pnas_arch_append_block": (c_status, [handle, P(BlockInfo)]),
    "pnas_arch_load_yaml": (c_status, [handle, c.c_char_p, handle_out]),
    "pnas_arch_parse_yaml": (c_status, [handle, c.c_char_p, c.c_size_t, handle_out]),
    "pnas_arch_import_net_config": (c_status, [handle, c.c_char_p, c.c_int32, c.c_int32,
                                               handle_out]),
    "pnas_arch_save_yaml": (c_status, [handle, c.c_char_p]),
    "pnas_arch_export_net_config": (c_status, [handle, c.c_char_p]),
    "pnas_arch_get_info": (c_status, [handle, P(ArchInfo)]),
    "pnas_arch_get_block": (c_status, [handle, c.c_int32, P(BlockInfo)]),
    "pnas_arch_destroy": (None, [handle]),
    # data sets and batches
    "pnas_dataset_load_idx": (c_status, [handle, c.c_char_p, c.c_char_p, handle_out]),
    "pnas_dataset_load_png_folder": (c_status, [handle, c.c_char_p, handle_out]),
    "pnas_dataset_create_from_memory": (c_status, [handle, u8_in, i32_in, c.c_int64,
                                                   c.c_int32, c.c_int32, c.c_int32,
                                                   c.c_int32, handle_out]),
    "pnas_dataset_split_balanced": (c_status, [handle, c.c_int32, handle_out, handle_out]),
    "pnas_dataset_subset": (c_status, [handle, c.c_int64, c.c_int64, handle_out]),
    "pnas_dataset_get_info": (c_status, [handle, P(DatasetInfo)]),
    "pnas_dataset_destroy": (None, [handle]),
    "pnas_batcher_options_init_sized": (c_status, [P(BatcherOptions), c.c_size_t]),
    "pnas_batcher_create": (c_status, [handle, P(BatcherOptions), handle_out]),
    "pnas_batcher_next": (c_status, [handle, f32_out, i32_out, P(c.c_int32)]),
    "pnas_batcher_next_view": (c_status, [handle, P(P(c.c_float)), P(P(c.c_int32)),
                                          P(c.c_int32)]),
    "pnas_batcher_reset": (c_status, [handle]),
    "pnas_batcher_get_state": (c_status, [handle, c.c_void_p, c.c_size_t, P(c.c_size_t)]),
    "pnas_batcher_set_state": (c_status, [handle, c.c_char_p, c.c_size_t]),
    "pnas_batcher_destroy": (None, [handle]),
    # networks
    "pnas_net_options_init_sized": (c_status, [P(NetOptions), c.c_size_t]),
    "pnas_sgd_options_init_sized": (c_status, [P(SgdOptions), c.c_size_t]),
    "pnas_net_create": (c_status, [handle, handle, P(NetOptions), handle_out]),
    "pnas_net_set_sgd": (c_status, [handle, P(SgdOptions)]),
    "pnas_net_set_lr": (c_status, [handle, c.c_float]),
    "pnas_net_train_step": (c_status, [handle, f32_in, i32_in, c.c_int32, P(StepStats)]),
    "pnas_net_infer": (c_status, [handle, f32_in, c.c_int32, f32_out]),
    "pnas_net_evaluate": (c_status, [handle, handle, P(BatcherOptions), P(StepStats)]),
    "pnas_net_save": (c_status, [handle, c.c_char_p]),
    "pnas_net_load": (c_status, [handle, c.c_char_p, P(NetOptions), handle_out]),
    "pnas_net_get_arch": (c_status, [handle, handle_out]),
    "pnas_net_destroy": (None, [handle]),
    "pnas_lr_cosine": (c.c_float, [c.c_float, c.c_int64, c.c_int64]),
    # search spaces
    "pnas_space_info_init_sized": (c_status, [P(SpaceInfo), c.c_size_t]),
    "pnas_space_create": (c_status, [handle, P(SpaceInfo), handle_out]),
    "pnas_space_create_default": (c_status, [handle, handle_out]),
    "pnas_space_add_stage": (c_status, [handle, c.c_int32, c.c_int32, c.c_int32, P(OpSpec),
                                        c.c_int32, c.c_int32]),
    "pnas_space_load_yaml": (c_status, [handle, c.c_char_p, handle_out]),
    "pnas_space_parse_yaml": (c_status, [handle, c.c_char_p, c.c_size_t, handle_out]),
    "pnas_space_save_yaml": (c_status, [handle, c.c_char_p]),
    "pnas_space_get_info": (c_status, [handle, P(SpaceInfo)]),
    "pnas_space_get_layer": (c_status, [handle, c.c_int32, P(BlockInfo), P(OpSpec),
                                        c.c_int32, P(c.c_int32)]),
    "pnas_space_destroy": (None, [handle]),
    # latency models
    "pnas_latency_model_load_table": (c_status, [handle, c.c_char_p, handle_out]),
    "pnas_latency_model_arch_latency": (c_status, [handle, handle, P(c.c_double)]),
    "pnas_latency_model_create_callback": (c_status, [handle, LATENCY_FN, c.c_void_p,
                                                      handle_out]),
    "pnas_latency_model_create_macs": (c_status, [handle, c.c_double, handle_out]),
    "pnas_profile_options_init_sized": (c_status, [P(ProfileOptions), c.c_size_t]),
    "pnas_latency_model_profile": (c_status, [handle, handle, P(ProfileOptions), handle_out]),
    "pnas_latency_model_save_table": (c_status, [handle, c.c_char_p]),
    "pnas_latency_model_block_latency": (c_status, [handle, P(BlockInfo), P(c.c_double)]),
    "pnas_latency_model_destroy": (None, [handle]),
    # supernet and search
    "pnas_supernet_options_init_sized": (c_status, [P(SupernetOptions), c.c_size_t]),
    "pnas_search_options_init_sized": (c_status, [P(SearchOptions), c.c_size_t]),
    "pnas_supernet_create": (c_status, [handle, handle, P(SupernetOptions), handle_out]),
    "pnas_supernet_destroy": (None, [handle]),
    "pnas_supernet_get_info": (c_status, [handle, P(SupernetInfo)]),
    "pnas_supernet_set_sgd": (c_status, [handle, P(SgdOptions)]),
    "pnas_supernet_set_lr": (c_status, [handle, c.c_float]),
    "pnas_supernet_set_search": (c_status, [handle, P(SearchOptions)]),
    "pnas_supernet_set_latency_model": (c_status, [handle, handle]),
    "pnas_supernet_train_step": (c_status, [handle, f32_in, i32_in, c.c_int32,
                                            P(SearchStats)]),
    "pnas_supernet_arch_step": (c_status, [handle, f32_in, i32_in, c.c_int32,
                                           P(SearchStats)]),
    "pnas_supernet_arch_step_reinforce": (c_status, [handle, f32_in, i32_in, c.c_int32,
                                                     P(SearchStats)]),
    "pnas_supernet_prune": (c_status, [handle, P(c.c_int32)]),
    "pnas_supernet_expected_latency": (c_status, [handle, P(c.c_double)]),
    "pnas_supernet_derive": (c_status, [handle, handle_out]),
    "pnas_supernet_derive_net": (c_status, [handle, P(NetOptions), c.c_int32, handle_out]),
    "pnas_supernet_op_count": (c_status, [handle, c.c_int32, P(c.c_int32)]),
    "pnas_supernet_get_ops": (c_status, [handle, c.c_int32, P(OpSpec), c.c_int32]),
    "pnas_supernet_get_alpha": (c_status, [handle, c.c_int32, c.c_int32, f32_out,
                                           c.c_int32]),
    "pnas_supernet_set_alpha": (c_status, [handle, c.c_int32, f32_in, c.c_int32]),
    "pnas_supernet_save": (c_status, [handle, c.c_char_p, c.c_char_p, c.c_size_t]),
    "pnas_supernet_load": (c_status, [handle, c.c_char_p, c.c_int32, handle_out,
                                      P(c.c_void_p), P(c.c_size_t)]),
    "pnas_supernet_sample": (c_status, [handle]),
    "pnas_supernet_active_path": (c_status, [handle, i32_out, c.c_int32, c.c_int32]),
    "pnas_supernet_forward": (c_status, [handle, f32_in, c.c_int32, c.c_int32, f32_out]),
    "pnas_supernet_backward": (c_status, [handle, f32_in, c.c_int32]),
    "pnas_supernet_sgd_step": (c_status, [handle]),
    "pnas_supernet_parameters": (c_status, [handle, P(c.c_void_p), P(c.c_void_p),
                                            P(c.c_int64)]),
    "pnas_supernet_arch_gradient": (c_status, [handle, f32_in, i32_in, c.c_int32,
                                               P(SearchStats)]),
    "pnas_supernet_arch_update": (c_status, [handle]),
}
del c


def _package_root():
    """The folder holding the ``pnas`` package."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _instrumented(path):
    """True if the library at path was built with a sanitizer (ASan, UBSan,
    TSan, MSan): such a build loads only into a process started with the
    sanitizer's runtime, so a plain interpreter must not pick it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return any(m in data for m in (b"__asan_", b"__ubsan_", b"__tsan_", b"__msan_"))


def _build_tree_candidates():
    """libpnas files of build trees beside the source checkout, newest first.

    Applies when the package is imported from ``bindings/python`` of a
    checkout: ``<checkout>/build/lib`` and ``<checkout>/_build/*/lib``.
    Sanitizer builds (tests/run.sh makes one) are passed over.
    """
    checkout = os.path.dirname(os.path.dirname(_package_root()))
    if not os.path.isfile(os.path.join(checkout, "include", "pnas", "pnas.h")):
        return []
    found = glob.glob(os.path.join(checkout, "build", "lib", SONAME))
    found += glob.glob(os.path.join(checkout, "_build", "*", "lib", SONAME))
    found = [f for f in found if not _instrumented(f)]
    return sorted(found, key=os.path.getmtime, reverse=True)


def _installed_candidates():
    """Where an installed libpnas may be: the configured libdir, then dlopen's search."""
    names = []
    try:
        from . import _install_paths  # written by meson install
        names.append(os.path.join(_install_paths.LIBDIR, SONAME))
    except ImportError:
        pass
    names.append(SONAME)
    found = ctypes.util.find_library("pnas")
    if found:
        names.append(found)
    return names


def candidates():
    """The library files tried, in order: ``PNAS_LIBRARY``, a build tree, an install."""
    explicit = os.environ.get("PNAS_LIBRARY")
    if explicit:
        return [explicit]
    return _build_tree_candidates() + _installed_candidates()


def declare(lib):
    """Sets ``restype`` and ``argtypes`` of every function of ``FUNCTIONS`` on ``lib``.

    Raises ImportError naming the first function the library does not export.
    """
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError("pnas: %s does not export %s (a library older than the "
                              "binding?)" % (lib._name, name)) from None
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def check_version(lib):
    """Raises ImportError unless the library's major is EXPECTED_MAJOR and it is
    at least ABI_VERSION (the structs mirrored here may not be larger than its)."""
    for name in ("pnas_version", "pnas_version_string"):
        getattr(lib, name).restype, getattr(lib, name).argtypes = FUNCTIONS[name]
    number = lib.pnas_version()
    text = lib.pnas_version_string().decode()
    if number // 10000 != EXPECTED_MAJOR or number < ABI_VERSION:
        raise ImportError("pnas: %s is libpnas %s; this package needs %d.x with x >= %d"
                          % (lib._name, text, EXPECTED_MAJOR, ABI_VERSION // 100 % 100))


def load():
    """Loads, declares and version-checks libpnas; raises ImportError if none fits."""
    errors = []
    for path in candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
            continue
        if not hasattr(lib, "pnas_version"):
            errors.append("%s: not libpnas (no pnas_version)" % path)
            continue
        try:
            check_version(lib)
            return declare(lib)
        except ImportError as e:
            errors.append(str(e))
    raise ImportError("pnas: cannot load libpnas (set PNAS_LIBRARY to the path of %s):\n  %s"
                      % (SONAME, "\n  ".join(errors) or "no candidate found"))


lib = load()
