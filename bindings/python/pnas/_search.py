# SPDX-License-Identifier: MIT
"""Latency models (including one written in Python) and the supernet."""
import ctypes
import math

import numpy as np

from . import _ffi
from ._core import _Handle, _path, _text, fill_options, float_batch, label_batch, lib
from ._core import take, view_array
from ._errors import StateError, Status, make_error
from ._objects import Arch, Net, net_options, sgd_options
from ._types import (ArchMode, BlockInfo, ForwardMode, LatencyPart, LatencyQuery, LossForm,
                     Op, SearchStats, SupernetInfo, block_to_c, enum_value)


class LatencyModel(_Handle):
    """What parts of a network cost on the target device, in ms (``pnas_latency_model``).

    Create one with :meth:`load_table`, :meth:`from_callable` (a Python
    function), :meth:`macs` or :meth:`profile`.
    """

    _destroy_name = "pnas_latency_model_destroy"

    def __init__(self, context, _ptr, _callback=None, _pending=None):
        """Wraps a model handle (internal: use the class methods)."""
        super().__init__(_ptr, context, (context,))
        # The C function pointer must live as long as the C model that calls it.
        self._callback = _callback
        self._pending = _pending if _pending is not None else []

    @classmethod
    def load_table(cls, context, path):
        """Loads a latency lookup table (official ProxylessNAS YAML format)."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_latency_model_load_table(context._h, _path(path),
                                                         ctypes.byref(out)))
        return cls(context, take(out))

    @classmethod
    def from_callable(cls, context, fn):
        """A model that asks ``fn(query) -> ms`` for every part it prices.

        ``query`` is a :class:`LatencyQuery` (part, block shape, official
        key). ``fn`` must return a finite number >= 0. If it raises (or
        returns something that is not a number), the library call that asked
        fails with NotFoundError naming the key, chained to the exception
        (``__cause__``); KeyboardInterrupt and SystemExit are re-raised as
        they are. A negative or non-finite answer is a NumericError.
        """
        if not callable(fn):
            raise TypeError("fn must be callable, got %r" % (fn,))
        pending = []

        def trampoline(user, query, out_ms):
            """Called by the library: 0 with *out_ms set, or 1 if ``fn`` failed."""
            try:
                q = query.contents
                try:
                    part = LatencyPart(q.part)
                except ValueError:
                    part = q.part
                ms = fn(LatencyQuery(part, BlockInfo.from_c(q.block), _text(q.key)))
                out_ms[0] = float(ms)
                return 0
            except BaseException as e:  # noqa: BLE001 - must not unwind through C
                pending.append(e)
                return 1

        callback = _ffi.LATENCY_FN(trampoline)
        out = ctypes.c_void_p()
        context._check(lib.pnas_latency_model_create_callback(context._h, callback, None,
                                                              ctypes.byref(out)))
        return cls(context, take(out), _callback=callback, _pending=pending)

    @classmethod
    def macs(cls, context, ms_per_mmac):
        """A model proportional to MACs: ``ms_per_mmac`` ms per million MACs."""
        out = ctypes.c_void_p()
        context._check(lib.pnas_latency_model_create_macs(context._h, ms_per_mmac,
                                                          ctypes.byref(out)))
        return cls(context, take(out))

    @classmethod
    def profile(cls, context, space, batch=None, warmup=None, repeats=None):
        """Measures a latency table for ``space`` on this machine (a table model)."""
        s = fill_options(_ffi.ProfileOptions, "pnas_profile_options_init_sized",
                         {"batch": batch, "warmup": warmup, "repeats": repeats},
                         "LatencyModel.profile")
        out = ctypes.c_void_p()
        context._check(lib.pnas_latency_model_profile(context._h, space._h, ctypes.byref(s),
                                                      ctypes.byref(out)))
        return cls(context, take(out))

    def _call(self, owner, fn, *args):
        """Runs ``fn(*args)`` (a call that may reach the Python function) and
        raises on failure, chaining the function's own exception if it raised."""
        del self._pending[:]
        status = fn(*args)
        raised = self._pending[0] if self._pending else None
        del self._pending[:]
        if status == Status.OK:
            return
        if raised is not None and not isinstance(raised, Exception):
            raise raised
        ctx = owner._context
        message = _text(lib.pnas_context_last_error(ctx._ptr))
        error = make_error(status, message)
        if raised is not None:
            raise error from raised
        raise error

    def save_table(self, path):
        """Writes a table model in the official YAML format, atomically."""
        self._check(lib.pnas_latency_model_save_table(self._h, _path(path)))

    def arch_latency(self, arch):
        """The latency of a whole :class:`Arch` in ms."""
        out = ctypes.c_double()
        self._call(self, lib.pnas_latency_model_arch_latency, self._h, arch._h,
                   ctypes.byref(out))
        return out.value

    def block_latency(self, block=None, **fields):
        """The latency of one block in ms: a :class:`BlockInfo` and/or its fields
        (kind, in_channels, out_channels, kernel, expand, stride, in_height, in_width)."""
        s = block_to_c(block, **fields)
        out = ctypes.c_double()
        self._call(self, lib.pnas_latency_model_block_latency, self._h, ctypes.byref(s),
                   ctypes.byref(out))
        return out.value


class Supernet(_Handle):
    """Every candidate op of every searched layer of a space, with alpha (``pnas_supernet``).

    ``Supernet(ctx, space, **options)`` copies the space; options are the
    members of ``pnas_supernet_options`` (max_batch, bn_momentum, bn_eps,
    alpha_init_std). Arrays passed in are read during the call only; arrays
    returned are new copies, except the views of :meth:`parameters` with
    ``copy=False``.
    """

    _destroy_name = "pnas_supernet_destroy"

    def __init__(self, context, space, _ptr=None, **options):
        """Builds a supernet of ``space`` with weights and alpha from the context."""
        if _ptr is None:
            s = fill_options(_ffi.SupernetOptions, "pnas_supernet_options_init_sized", options,
                             "Supernet")
            out = ctypes.c_void_p()
            context._check(lib.pnas_supernet_create(context._h, space._h, ctypes.byref(s),
                                                    ctypes.byref(out)))
            _ptr = take(out)
        super().__init__(_ptr, context, (context,))
        self.host_data = None
        arch = self.derive()
        try:
            info = arch.info
        finally:
            arch.close()
        #: (height, width, channels) of an input image.
        self.input_shape = (info.input_height, info.input_width, info.input_channels)
        #: Number of classes (columns of the logits).
        self.classes = info.classes
        #: Number of searched layers.
        self.layers = self.info.layers

    @classmethod
    def load(cls, context, path, max_batch=0):
        """Loads a checkpoint written by :meth:`save`; its host bytes are in ``host_data``."""
        out = ctypes.c_void_p()
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        context._check(lib.pnas_supernet_load(context._h, _path(path), max_batch,
                                              ctypes.byref(out), ctypes.byref(data),
                                              ctypes.byref(size)))
        try:
            host = ctypes.string_at(data.value, size.value) if data.value else None
        finally:
            lib.pnas_free(data)
        sn = cls(context, None, _ptr=take(out))
        sn.host_data = host
        return sn

    @property
    def info(self):
        """Layers, candidates, params and step counts, a :class:`SupernetInfo`."""
        s = _ffi.SupernetInfo.new()
        self._check(lib.pnas_supernet_get_info(self._h, ctypes.byref(s)))
        return SupernetInfo.from_c(s)

    def set_sgd(self, **options):
        """Sets the weight optimizer: lr, momentum, nesterov, weight_decay,
        no_decay_on_bn, label_smoothing (others keep the library's defaults)."""
        s = sgd_options(options, "Supernet.set_sgd")
        self._check(lib.pnas_supernet_set_sgd(self._h, ctypes.byref(s)))

    def set_lr(self, lr):
        """Changes the weight learning rate."""
        self._check(lib.pnas_supernet_set_lr(self._h, lr))

    def set_search(self, **options):
        """Sets the architecture optimisation (members of ``pnas_search_options``).

        arch_mode ("two", "full_v2" or :class:`ArchMode`), arch_lr,
        arch_beta1, arch_beta2, arch_eps, loss_form ("none", "add",
        "mul-log", "abs" or :class:`LossForm`), target_ms, lambda_ (or
        ``lam``), mul_log_a, mul_log_beta, skip_zero_active, rl_samples,
        rl_exponent, rl_baseline_decay, prune_threshold, prune_patience.
        Unnamed members keep the library's defaults.
        """
        if "lam" in options:
            options["lambda_"] = options.pop("lam")
        if options.get("arch_mode") is not None:
            options["arch_mode"] = int(enum_value(ArchMode, options["arch_mode"]))
        if options.get("loss_form") is not None:
            options["loss_form"] = int(enum_value(LossForm, options["loss_form"]))
        options = {k: (int(v) if isinstance(v, bool) else v) for k, v in options.items()}
        s = fill_options(_ffi.SearchOptions, "pnas_search_options_init_sized", options,
                         "Supernet.set_search")
        self._check(lib.pnas_supernet_set_search(self._h, ctypes.byref(s)))

    def set_latency_model(self, model):
        """Prices every candidate with ``model`` (prices are copied; None removes them)."""
        if model is None:
            self._check(lib.pnas_supernet_set_latency_model(self._h, None))
            return
        model._call(self, lib.pnas_supernet_set_latency_model, self._h, model._h)

    def _step(self, fn, images, labels):
        """Runs a step function on a batch and returns its SearchStats."""
        x = float_batch(images, self.input_shape)
        y = label_batch(labels, x.shape[0])
        stats = _ffi.SearchStats.new()
        self._check(fn(self._h, x, y, x.shape[0], ctypes.byref(stats)))
        return SearchStats.from_c(stats)

    def train_step(self, images, labels):
        """One weight step on a sampled path; returns :class:`SearchStats`."""
        return self._step(lib.pnas_supernet_train_step, images, labels)

    def arch_step(self, images, labels):
        """One gradient arch step (Adam on alpha) on a held-out batch.

        Weights do not change and no weight gradient is computed: the
        gradient buffer of ``parameters()`` keeps what the last backward wrote.
        """
        return self._step(lib.pnas_supernet_arch_step, images, labels)

    def arch_step_reinforce(self, images, labels):
        """One REINFORCE arch step; ``loss`` of the stats is the mean reward."""
        return self._step(lib.pnas_supernet_arch_step_reinforce, images, labels)

    def arch_gradient(self, images, labels):
        """Computes the alpha gradient of an arch step without applying it."""
        return self._step(lib.pnas_supernet_arch_gradient, images, labels)

    def arch_update(self):
        """Applies Adam to alpha from the current alpha gradient."""
        self._check(lib.pnas_supernet_arch_update(self._h))

    def prune(self):
        """Removes candidates below the prune threshold for long enough; returns how many.

        Refused (StateError) while views from ``parameters(copy=False)`` are
        alive: pruning moves the memory they point to.
        """
        if self._views:
            raise StateError("%d parameter view(s) of this supernet are alive; delete them "
                             "(or use parameters(copy=True)) before pruning" % self._views)
        out = ctypes.c_int32()
        self._check(lib.pnas_supernet_prune(self._h, ctypes.byref(out)))
        return out.value

    def expected_latency(self):
        """E[LAT] in ms under the current probabilities (needs a latency model)."""
        out = ctypes.c_double()
        self._check(lib.pnas_supernet_expected_latency(self._h, ctypes.byref(out)))
        return out.value

    def derive(self):
        """The argmax architecture, a new :class:`Arch`."""
        out = ctypes.c_void_p()
        self._check(lib.pnas_supernet_derive(self._h, ctypes.byref(out)))
        return Arch(self._context, _ptr=take(out))

    def derive_net(self, inherit=True, **options):
        """A :class:`Net` of the derived architecture, with the supernet's weights
        when ``inherit`` (else fresh ones); options as for :class:`Net`."""
        s = net_options(options, "Supernet.derive_net")
        out = ctypes.c_void_p()
        self._check(lib.pnas_supernet_derive_net(self._h, ctypes.byref(s), 1 if inherit else 0,
                                                 ctypes.byref(out)))
        return Net(self._context, None, _ptr=take(out))

    def op_count(self, layer):
        """Number of live (unpruned) candidates of ``layer``."""
        out = ctypes.c_int32()
        self._check(lib.pnas_supernet_op_count(self._h, layer, ctypes.byref(out)))
        return out.value

    def ops(self, layer):
        """The live candidates of ``layer`` as a list of :class:`Op`."""
        n = self.op_count(layer)
        specs = (_ffi.OpSpec * n)()
        self._check(lib.pnas_supernet_get_ops(self._h, layer, specs, n))
        return [Op.from_c(s) for s in specs]

    def _alpha(self, layer, what):
        """Copies alpha (0), its gradient (1) or the probabilities (2) of a layer."""
        n = self.op_count(layer)
        out = np.empty(n, dtype=np.float32)
        self._check(lib.pnas_supernet_get_alpha(self._h, layer, what, out, n))
        return out

    def alpha(self, layer):
        """A copy of ``layer``'s architecture logits (float32, one per live candidate)."""
        return self._alpha(layer, 0)

    def alpha_grad(self, layer):
        """A copy of the gradient of the loss w.r.t. ``layer``'s alpha (last arch step)."""
        return self._alpha(layer, 1)

    def probabilities(self, layer):
        """A copy of softmax(alpha) of ``layer``."""
        return self._alpha(layer, 2)

    def set_alpha(self, layer, alpha):
        """Overwrites ``layer``'s alpha (op_count finite values; copied)."""
        a = np.ascontiguousarray(alpha, dtype=np.float32)
        if a.ndim != 1:
            raise ValueError("alpha must be 1-D, got shape %s" % (a.shape,))
        self._check(lib.pnas_supernet_set_alpha(self._h, layer, a, a.shape[0]))

    def save(self, path, host_data=None):
        """Writes a checkpoint, with optional host bytes stored verbatim."""
        data = None if host_data is None else bytes(host_data)
        self._check(lib.pnas_supernet_save(self._h, _path(path), data,
                                           0 if data is None else len(data)))

    def sample(self):
        """Low level: draws one candidate per layer from softmax(alpha) as the active path."""
        self._check(lib.pnas_supernet_sample(self._h))

    @property
    def active_path(self):
        """The active candidate index of every layer, an int32 array (settable)."""
        ops = np.zeros(self.layers, dtype=np.int32)
        self._check(lib.pnas_supernet_active_path(self._h, ops, self.layers, 0))
        return ops

    @active_path.setter
    def active_path(self, value):
        """Sets the active path from one candidate index per layer."""
        ops = np.array(value, dtype=np.int32)
        if ops.shape != (self.layers,):
            raise ValueError("the path needs %d indices, got shape %s"
                             % (self.layers, ops.shape))
        self._check(lib.pnas_supernet_active_path(self._h, ops, self.layers, 1))

    def forward(self, images, training=ForwardMode.EVAL):
        """Low level: logits (batch, classes) float32 of the active path.

        ``training``: a :class:`ForwardMode` (EVAL, TRAIN before
        :meth:`backward`, BATCH_STATS), or True/False for TRAIN/EVAL.
        """
        x = float_batch(images, self.input_shape)
        mode = int(ForwardMode.TRAIN if training is True else ForwardMode(int(training)))
        logits = np.empty((x.shape[0], self.classes), dtype=np.float32)
        self._check(lib.pnas_supernet_forward(self._h, x, x.shape[0], mode, logits))
        return logits

    def backward(self, dlogits):
        """Low level: backward of the active path from dL/dlogits (batch, classes)."""
        d = np.asarray(dlogits)
        if d.dtype.kind != "f" or d.ndim != 2 or d.shape[1] != self.classes:
            raise ValueError("dlogits must be a float array of shape (batch, %d), got %s %s"
                             % (self.classes, d.dtype, d.shape))
        d = np.ascontiguousarray(d, dtype=np.float32)
        self._check(lib.pnas_supernet_backward(self._h, d, d.shape[0]))

    def sgd_step(self):
        """Low level: SGD on the active path's weights from the gradient buffer."""
        self._check(lib.pnas_supernet_sgd_step(self._h))

    def parameters(self, copy=True):
        """All weights and their gradients as two 1-D float32 arrays.

        ``copy=True`` (default) returns copies. ``copy=False`` returns
        writable views into the supernet's memory, for an all-reduce or a
        host optimizer: they keep the supernet alive (closing it waits for
        them), and :meth:`prune` is refused while they exist.
        """
        params, grads = ctypes.c_void_p(), ctypes.c_void_p()
        count = ctypes.c_int64()
        self._check(lib.pnas_supernet_parameters(self._h, ctypes.byref(params),
                                                 ctypes.byref(grads), ctypes.byref(count)))
        p = view_array(self, params.value, count.value, np.float32)
        g = view_array(self, grads.value, count.value, np.float32)
        if copy:
            return p.copy(), g.copy()
        return p, g


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient dL/dlogits, computed in numpy.

    A helper for low-level loops: ``loss, dlogits = cross_entropy(logits, y)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = z.shape[0]
    loss = -float(np.mean(np.log(np.maximum(p[np.arange(n), y], 1e-30))))
    grad = p
    grad[np.arange(n), y] -= 1.0
    grad /= n
    if not math.isfinite(loss):
        raise ValueError("cross_entropy: the loss is not finite")
    return loss, grad.astype(np.float32)
