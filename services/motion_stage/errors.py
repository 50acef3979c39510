"""Errors the motion-stage service maps to HTTP answers on both of its APIs."""

from __future__ import annotations


class ControllerUnavailable(RuntimeError):
    """The controller is disconnected (POST /connection/disconnect, or the link dropped): HTTP 503."""
