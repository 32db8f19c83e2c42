"""The one exception users catch.

    QAError                 anything a user can fix: bad input, missing or stale index
    └── IndexIntegrityError an index on disk is stale, foreign or damaged

Messages say what to do next.
"""


class QAError(Exception):
    """A problem the user can act on; the message says how."""


class IndexIntegrityError(QAError):
    """An index on disk cannot be used as it is; the message names the rebuild command.

    `problem` is the message without that advice, for the build that is rebuilding it."""

    def __init__(self, problem: str, rebuild: str = "") -> None:
        super().__init__(f"{problem}; {rebuild}" if rebuild else problem)
        self.problem = problem
