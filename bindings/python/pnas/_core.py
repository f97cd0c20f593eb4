# SPDX-License-Identifier: MIT
"""Handles and their lifetimes, numpy conversions, and the Context."""
import ctypes
import enum
import os
import warnings
import weakref

import numpy as np

from . import _ffi
from ._errors import ClosedError, Error, Status, make_error

lib = _ffi.lib


class LogLevel(enum.IntEnum):
    """``pnas_log_level``: severity of a log message; lower is more severe."""

    OFF = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    DEBUG = 4


def _text(value):
    """Decodes a C string (bytes or None) as UTF-8, replacing bad bytes."""
    return "" if value is None else value.decode("utf-8", "replace")


def _path(value):
    """A path (str, bytes or os.PathLike) as bytes for a ``const char *``."""
    return os.fsencode(value)


class _Handle:
    """Base of every class that owns a libpnas handle.

    Lifetime rules (docs/python.md, "Ownership"):

    - an object keeps its parents alive (a strong reference), so Python never
      destroys a context before the objects created from it;
    - ``close()`` first closes the object's dependents (a context closes
      everything created from it, a data set its batchers), then destroys the
      handle, unless numpy views into its memory are still alive: then the
      handle is destroyed when the last of them goes. Either way the object
      refuses further use (:class:`pnas.ClosedError`);
    - ``close()`` and ``__del__`` may be called any number of times, in any
      order, and never crash.
    """

    _destroy_name = None

    def __init__(self, ptr, context, parents):
        """Takes ownership of ``ptr``; ``parents`` must outlive it."""
        self._ptr = ptr
        self._destroy_fn = getattr(lib, self._destroy_name)
        self._context = context
        self._parents = tuple(parents)
        self._dependents = weakref.WeakSet()
        self._holds = 0          # dependents and views not yet destroyed
        self._views = 0          # live numpy views into this object's memory
        self._closed = False
        for parent in self._parents:
            parent._dependents.add(self)
            parent._holds += 1

    @property
    def _h(self):
        """The C handle; raises ClosedError once the object is closed."""
        if self._closed:
            raise ClosedError("%s is closed" % type(self).__name__)
        return self._ptr

    @property
    def closed(self):
        """True once ``close()`` was called."""
        return self._closed

    @property
    def context(self):
        """The :class:`Context` this object was created from."""
        return self._context

    def close(self):
        """Destroys the object and, first, its dependents. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for dependent in list(self._dependents):
            dependent.close()
        self._release()

    def _release(self):
        """Destroys the handle if closed and nothing depends on it any more."""
        if not self._closed or self._holds > 0 or self._ptr is None:
            return
        ptr, self._ptr = self._ptr, None
        self._destroy_fn(ptr)
        for parent in self._parents:
            parent._holds -= 1
            parent._release()

    def _view_released(self):
        """Called by a view into this object's memory when it is freed."""
        self._views -= 1
        self._holds -= 1
        self._release()

    def __enter__(self):
        """Returns the object itself (``with`` closes it at the end)."""
        return self

    def __exit__(self, *exc):
        """Closes the object."""
        self.close()
        return False

    def __del__(self):
        """Closes the object when Python frees it (no-op if already closed)."""
        try:
            if self._ptr is not None:
                self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    def _check(self, status):
        """Raises the Error subclass for ``status`` with the context's message."""
        if status != Status.OK:
            self._context._raise(status)

    def __repr__(self):
        """``<pnas.Name at 0x... (closed)>``."""
        state = " (closed)" if self._closed else ""
        return "<pnas.%s at %#x%s>" % (type(self).__name__, id(self), state)


class _View:
    """Exposes library memory to numpy while keeping its owner alive.

    numpy arrays made from it (``np.asarray(view)``) have it as their base, so
    the owner cannot be destroyed while any such array (or a slice of it)
    exists; closing the owner only takes effect when the last one is freed.
    """

    def __init__(self, owner, address, count, dtype):
        """Views ``count`` items of ``dtype`` at ``address`` owned by ``owner``."""
        self._owner = owner
        owner._views += 1
        owner._holds += 1
        self.__array_interface__ = {
            "shape": (int(count),), "typestr": np.dtype(dtype).str,
            "data": (int(address), False), "version": 3}

    def __del__(self):
        """Lets the owner be destroyed once this was its last view."""
        owner, self._owner = getattr(self, "_owner", None), None
        if owner is not None:
            try:
                owner._view_released()
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass


def view_array(owner, address, count, dtype):
    """A 1-D numpy array over library memory that keeps ``owner`` alive."""
    if count == 0:
        return np.empty(0, dtype=dtype)
    return np.asarray(_View(owner, address, count, dtype))


def float_batch(images, shape, what="images"):
    """``images`` as a C-contiguous float32 array of shape (batch,) + ``shape``.

    Returns the array itself when it already is one (the library then reads
    it in place during the call), else a converted copy. Integer arrays are
    refused: scale bytes to floats first. A (batch, H, W) array is accepted
    when ``shape`` has one channel.
    """
    arr = np.asarray(images)
    if arr.dtype.kind != "f":
        raise TypeError("%s must be a floating-point array (got dtype %s); convert and "
                        "normalise bytes to float32 first" % (what, arr.dtype))
    shape = tuple(int(d) for d in shape)
    if arr.ndim == len(shape) and shape[-1] == 1 and arr.shape[1:] == shape[:-1]:
        arr = arr.reshape(arr.shape + (1,))
    if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != shape:
        raise ValueError("%s must have shape (batch, %s) (NHWC), got %s"
                         % (what, ", ".join(map(str, shape)), tuple(arr.shape)))
    if arr.shape[0] < 1:
        raise ValueError("%s: the batch is empty" % what)
    return np.ascontiguousarray(arr, dtype=np.float32)


def label_batch(labels, batch):
    """``labels`` as a C-contiguous int32 array of ``batch`` entries.

    Integer arrays only; a copy is made unless they already are int32 and
    C-contiguous. Range checks (0 <= label < classes) are the library's.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError("labels must be an integer array (got dtype %s)" % arr.dtype)
    if arr.shape != (batch,):
        raise ValueError("labels must have shape (%d,) to match the images, got %s"
                         % (batch, tuple(arr.shape)))
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError("labels do not fit in int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


def fill_options(struct_type, init_name, values, where):
    """A ``struct_type`` filled by the library's defaults, then by ``values``.

    ``values`` maps field names to values; None means "keep the default".
    An unknown name is a TypeError listing the accepted ones.
    """
    s = struct_type.new()
    status = getattr(lib, init_name)(ctypes.byref(s), ctypes.sizeof(struct_type))
    if status != Status.OK:
        raise make_error(status, "%s failed" % init_name)
    fields = [name for name, _ in struct_type._fields_ if name != "struct_size"]
    for name, value in values.items():
        if value is None:
            continue
        if name not in fields:
            raise TypeError("%s: unknown option %r (expected one of: %s)"
                            % (where, name, ", ".join(fields)))
        current = getattr(s, name)
        if isinstance(current, ctypes.Array):
            seq = list(value) if np.ndim(value) else [value] * len(current)
            if len(seq) > len(current):
                raise ValueError("%s: option %r takes at most %d values"
                                 % (where, name, len(current)))
            seq += [seq[-1]] * (len(current) - len(seq))
            for i, v in enumerate(seq):
                current[i] = v
        else:
            setattr(s, name, value)
    return s


def struct_dict(s):
    """The fields of a ctypes struct as a dict, without ``struct_size``."""
    out = {}
    for name, _ in s._fields_:
        if name == "struct_size":
            continue
        value = getattr(s, name)
        if isinstance(value, ctypes.Array):
            value = tuple(value)
        out[name] = value
    return out


class Context(_Handle):
    """The root object: threads, random seed, allocator, logging, last error.

    Every other object is created from a context and keeps it alive;
    ``close()`` closes them all first. One thread at a time may use a context
    and the objects created from it.

    Args:
        threads: threads for every parallel kernel (default: processors online).
        seed: seed of the context's random generator (default 0).
        log: a callable ``log(level, message)`` receiving the library's log
            messages (``level`` a :class:`LogLevel`); exceptions it raises are
            turned into RuntimeWarnings.
        log_level: the most verbose :class:`LogLevel` passed to ``log``
            (default WARNING).
        allocator: an object with ``alloc(size) -> address``, ``free(address)``
            and optionally ``aligned_alloc(alignment, size) -> address``
            (addresses as ints, 0 for failure), used for every allocation of
            this context. For diagnostics: it is slow.
    """

    _destroy_name = "pnas_context_destroy"

    def __init__(self, threads=None, seed=None, log=None, log_level=None, allocator=None):
        """Creates a context; raises an Error subclass with the reason on failure."""
        options = _ffi.ContextOptions.new()
        status = lib.pnas_context_options_init_abi(ctypes.byref(options),
                                                   ctypes.sizeof(options), _ffi.ABI_VERSION)
        if status != Status.OK:
            raise make_error(status, "pnas_context_options_init_abi failed")
        if threads is not None:
            options.threads = threads
        if seed is not None:
            options.seed = seed
        if log_level is not None:
            options.log_level = int(log_level)
        self._callbacks = []
        if log is not None:
            options.log_fn = self._log_trampoline(log)
        if allocator is not None:
            options.allocator = self._allocator_hooks(allocator)
        ptr = ctypes.c_void_p()
        error = ctypes.create_string_buffer(512)
        status = lib.pnas_context_create(ctypes.byref(options), ctypes.byref(ptr), error,
                                         ctypes.sizeof(error))
        if status != Status.OK:
            self._ptr = None
            self._closed = True
            raise make_error(status, _text(error.value))
        super().__init__(ptr.value, self, ())

    def _log_trampoline(self, log):
        """A C log callback calling ``log(level, message)``."""
        def trampoline(user, level, message):
            """Called by the library for each message."""
            try:
                log(LogLevel(level), _text(message))
            except Exception as e:  # noqa: BLE001 - the C caller cannot take it
                warnings.warn("pnas log callback raised %r" % (e,), RuntimeWarning)
        fn = _ffi.LOG_FN(trampoline)
        self._callbacks.append(fn)
        return fn

    def _allocator_hooks(self, allocator):
        """A pnas_allocator calling the methods of ``allocator``."""
        def alloc(user, size):
            """pnas_allocator.alloc: the address, or NULL (None) on failure."""
            try:
                return int(allocator.alloc(size)) or None
            except Exception:  # noqa: BLE001 - NULL: the library reports out of memory
                return None

        def aligned(user, alignment, size):
            """pnas_allocator.aligned_alloc: the address, or NULL (None) on failure."""
            try:
                return int(allocator.aligned_alloc(alignment, size)) or None
            except Exception:  # noqa: BLE001 - as above
                return None

        def free(user, address):
            """pnas_allocator.free."""
            try:
                allocator.free(address)
            except Exception as e:  # noqa: BLE001 - the C caller cannot take it
                warnings.warn("pnas allocator free raised %r" % (e,), RuntimeWarning)

        hooks = _ffi.Allocator()
        hooks.alloc = _ffi.ALLOC_FN(alloc)
        hooks.free = _ffi.FREE_FN(free)
        if hasattr(allocator, "aligned_alloc"):
            hooks.aligned_alloc = _ffi.ALIGNED_ALLOC_FN(aligned)
        self._callbacks += [hooks.alloc, hooks.free, hooks.aligned_alloc, allocator]
        return hooks

    def _raise(self, status):
        """Raises the Error subclass for ``status`` with the last error message."""
        ptr = self._ptr
        message = _text(lib.pnas_context_last_error(ptr)) if ptr is not None else ""
        raise make_error(status, message or lib.pnas_status_string(status).decode())

    @property
    def last_error(self):
        """The message of the last failed call made with this context ("" if none)."""
        return _text(lib.pnas_context_last_error(self._h))

    @property
    def last_status(self):
        """The :class:`Status` of the last failed call (OK if none)."""
        return Status(lib.pnas_context_last_status(self._h))

    @property
    def threads(self):
        """Threads of the context's kernels (settable, at least 1)."""
        out = ctypes.c_int32()
        self._check(lib.pnas_context_get_threads(self._h, ctypes.byref(out)))
        return out.value

    @threads.setter
    def threads(self, value):
        """Sets the thread count for later calls."""
        self._check(lib.pnas_context_set_threads(self._h, value))

    def set_seed(self, seed):
        """Re-seeds the context's random generator."""
        self._check(lib.pnas_context_set_seed(self._h, seed))

    @property
    def rng_state(self):
        """The generator's state: a tuple of 4 ints (settable, for checkpoints)."""
        state = (ctypes.c_uint64 * 4)()
        self._check(lib.pnas_context_get_rng_state(self._h, state))
        return tuple(state)

    @rng_state.setter
    def rng_state(self, value):
        """Restores a state read from ``rng_state``."""
        state = (ctypes.c_uint64 * 4)(*value)
        self._check(lib.pnas_context_set_rng_state(self._h, state))

    def describe(self):
        """``key: value`` lines: library and BLIS versions, OpenMP, threads, seed."""
        out = ctypes.c_void_p()
        self._check(lib.pnas_context_describe(self._h, ctypes.byref(out)))
        try:
            return _text(ctypes.string_at(out.value))
        finally:
            lib.pnas_free(out)


def take(ptr_out):
    """The handle value of a filled ``c_void_p`` out-parameter."""
    if not ptr_out.value:
        raise Error("libpnas returned OK without an object")
    return ptr_out.value


def status_string(status):
    """The library's short name of a status (``pnas_status_string``)."""
    return _text(lib.pnas_status_string(int(status)))


def version():
    """The library's version as (major, minor, patch)."""
    n = lib.pnas_version()
    return (n // 10000, n // 100 % 100, n % 100)


def version_string():
    """The library's version as "MAJOR.MINOR.PATCH"."""
    return _text(lib.pnas_version_string())


def lr_cosine(lr0, t, total):
    """The cosine schedule 0.5 * lr0 * (1 + cos(pi * t / total)), t clamped to [0, total]."""
    return lib.pnas_lr_cosine(lr0, t, total)
