# SPDX-License-Identifier: MIT
"""Exceptions: one ``pnas.Error`` subclass per ``pnas_status``."""
import enum


class Status(enum.IntEnum):
    """``pnas_status``: the frozen result codes of the C library."""

    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    ABI_MISMATCH = 3
    IO = 4
    PARSE = 5
    FORMAT = 6
    SHAPE = 7
    NOT_FOUND = 8
    STATE = 9
    NUMERIC = 10
    UNSUPPORTED = 11
    WRONG_HANDLE = 12
    INTERNAL = 13


class Error(Exception):
    """Base of every error the package raises for a failed libpnas call.

    ``status`` is the :class:`Status` (None for errors the binding raises
    itself, such as :class:`ClosedError`) and ``message`` the library's
    message naming the problem (``pnas_context_last_error``).
    """

    status = None

    def __init__(self, message):
        """Stores ``message``; the status comes from the subclass."""
        super().__init__(message)
        self.message = message


class InvalidArgumentError(Error, ValueError):
    """``PNAS_ERR_INVALID_ARGUMENT``: an argument is out of range or not acceptable."""

    status = Status.INVALID_ARGUMENT


class OutOfMemoryError(Error, MemoryError):
    """``PNAS_ERR_OUT_OF_MEMORY``: the context's allocator returned NULL."""

    status = Status.OUT_OF_MEMORY


class AbiMismatchError(Error):
    """``PNAS_ERR_ABI_MISMATCH``: the binding's structs do not match the library."""

    status = Status.ABI_MISMATCH


class IOError(Error, OSError):  # noqa: A001 - pnas.IOError, as the status is named
    """``PNAS_ERR_IO``: a file could not be opened, read or written."""

    status = Status.IO


class ParseError(Error, ValueError):
    """``PNAS_ERR_PARSE``: a YAML or JSON document is malformed or has a bad value."""

    status = Status.PARSE


class FormatError(Error, ValueError):
    """``PNAS_ERR_FORMAT``: a binary file or data set has the wrong format."""

    status = Status.FORMAT


class ShapeError(Error, ValueError):
    """``PNAS_ERR_SHAPE``: tensor or array shapes do not agree."""

    status = Status.SHAPE


class NotFoundError(Error, LookupError):
    """``PNAS_ERR_NOT_FOUND``: a required key or item is missing."""

    status = Status.NOT_FOUND


class StateError(Error):
    """``PNAS_ERR_STATE``: the call is not valid in the object's current state."""

    status = Status.STATE


class NumericError(Error, ArithmeticError):
    """``PNAS_ERR_NUMERIC``: a NaN or infinity was produced or supplied."""

    status = Status.NUMERIC


class UnsupportedError(Error):
    """``PNAS_ERR_UNSUPPORTED``: valid, but not supported by this build or object."""

    status = Status.UNSUPPORTED


class WrongHandleError(Error, TypeError):
    """``PNAS_ERR_WRONG_HANDLE``: a handle of the wrong kind, or a destroyed one."""

    status = Status.WRONG_HANDLE


class InternalError(Error):
    """``PNAS_ERR_INTERNAL``: an internal invariant of libpnas failed (a bug)."""

    status = Status.INTERNAL


class ClosedError(Error, ValueError):
    """An object was used after ``close()`` (raised by the binding, no status)."""


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, OutOfMemoryError, AbiMismatchError, IOError, ParseError,
    FormatError, ShapeError, NotFoundError, StateError, NumericError, UnsupportedError,
    WrongHandleError, InternalError)}


def error_class(status):
    """The Error subclass for a non-zero status (Error itself for an unknown value)."""
    try:
        return _BY_STATUS[Status(status)]
    except ValueError:
        return Error


def make_error(status, message):
    """An instance of the subclass for ``status`` carrying ``message``."""
    cls = error_class(status)
    err = cls(message)
    if cls is Error:
        err.status = status
    return err
