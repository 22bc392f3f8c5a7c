"""Exceptions that mean "the user asked for something that cannot be done".

The CLI turns an :class:`InputError` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """A bad parameter, file or value supplied by the user.

    The message names the parameter, the value and what is allowed, e.g.
    ``"--size must be an integer >= 2, got 1"``.
    """


class NaNError(FloatingPointError):
    """A NaN or inf appeared where a finite number is required (never averaged away)."""


class ConvergenceError(ArithmeticError):
    """An iterative numerical method did not converge where its answer is needed."""
