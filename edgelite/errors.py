"""Exceptions shared by every layer of edgelite."""

from __future__ import annotations


class EdgeliteError(Exception):
    """Base class of every error edgelite raises on purpose."""


class ModelError(EdgeliteError, ValueError):
    """A model file or buffer is malformed, truncated, or breaks a format rule.

    The message names what is wrong and where (table path, tensor, operator), e.g.
    ``tensor 17 'conv/weights': buffer 9 has 1152 bytes, shape [32,3,3,3] float32
    needs 3456``.
    """
