"""User-facing errors: one line that names the key, the value and what was expected."""


class SpecError(ValueError):
    """A spec, book or data file that gpufin cannot use; the CLI prints it without a traceback."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class NoClosedForm(SpecError):
    """`mc.method = "analytic"` asked for an instrument and model without a closed form."""
