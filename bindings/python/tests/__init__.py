# SPDX-License-Identifier: MIT
"""Tests of the pnas Python package (run by the meson suite `python`)."""
