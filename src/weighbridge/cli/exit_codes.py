"""The CLI's exit codes: one table, and the one function that maps an error onto it.

| code | meaning                                                                     |
|------|-----------------------------------------------------------------------------|
| 0    | success                                                                     |
| 1    | a job failed: an import (the model was refused), an export or a delete      |
| 2    | usage or configuration (bad option or host, no key, bad path, unwritable)   |
| 3    | the server refused a request (API error) or sent a download that is wrong   |
| 4    | the server could not be reached                                             |
| 130  | interrupted (Ctrl-C); an upload or a download can be resumed                |
"""

from __future__ import annotations

from enum import IntEnum

from weighbridge.client.errors import (
    ApiError,
    JobFailed,
    LocalInputError,
    TransportError,
    WeighbridgeClientError,
)


class ExitCode(IntEnum):
    OK = 0
    JOB_FAILED = 1
    IMPORT_FAILED = 1  # the same code: an import is the first kind of job there was
    USAGE = 2
    API_ERROR = 3
    CONNECTION = 4
    INTERRUPTED = 130


# SDK errors that mean "fix your configuration": no key, or a --host that is no URL.
_CONFIG_CODES = frozenset({"MISSING_API_KEY", "INVALID_HOST"})


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, JobFailed):
        return ExitCode.JOB_FAILED
    if isinstance(error, TransportError):
        return ExitCode.CONNECTION
    if isinstance(error, ApiError):
        # A wrong or revoked key is a configuration problem the user fixes locally.
        return ExitCode.USAGE if error.status == 401 else ExitCode.API_ERROR
    if isinstance(error, LocalInputError):
        return ExitCode.USAGE
    if isinstance(error, WeighbridgeClientError):
        return ExitCode.USAGE if error.code in _CONFIG_CODES else ExitCode.API_ERROR
    return ExitCode.API_ERROR
