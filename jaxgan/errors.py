"""Errors a user can fix. Entry points print them as one line (no traceback) and exit non-zero."""


class UserError(Exception):
    """Base class: bad input, missing data, a damaged checkpoint... never a bug in jaxgan."""


class ConfigError(UserError, ValueError):
    """An unknown, ill-typed, out-of-range or inconsistent config field (also a `ValueError`, for library
    callers)."""


class DataError(UserError):
    """Missing, empty, unprepared or unreadable data."""


class CheckpointError(UserError):
    """A damaged checkpoint, or one that does not match the config."""


class TrainingError(UserError):
    """Training cannot go on (e.g. a non-finite loss, a workdir in use by another run)."""


class TrainingStopped(UserError):
    """The user stopped training (Ctrl-C); a checkpoint of the last step was saved."""


def storage_failure(error: BaseException) -> str | None:
    """What a failed write says about the disk, in words ("no space left on device", "read-only file
    system", ...), where ``error`` (an `OSError`, or a library's error quoting one) is such a failure;
    else None."""
    import errno

    known = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied"}
    if isinstance(error, OSError) and error.errno in known:
        return known[error.errno]
    text = str(error).lower()
    return next((words for words in known.values() if words in text), None)
