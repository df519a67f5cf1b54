"""Experiments: each a function returning a result object that saves and loads."""

from .weak_error import ExactWeakError, exact_weak_error

__all__ = ["ExactWeakError", "exact_weak_error"]
