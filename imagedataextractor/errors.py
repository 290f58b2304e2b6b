"""Exceptions raised by imagedataextractor. Every stage raises a subclass of :class:`IDEError`."""


class IDEError(Exception):
    """Base class: a problem the user can act on, with a one-line message."""


class SettingsError(IDEError, ValueError):
    """A setting has a value outside what it allows (an unknown method, a negative sample count);
    the message names the setting. Also a ValueError, which these settings raised before."""


class ImageError(IDEError):
    """An input image is missing, unreadable, truncated, empty or too large."""


class ModelError(IDEError):
    """A model bundle or checkpoint is missing, corrupt, or of a foreign architecture."""


class DatasetError(IDEError):
    """A dataset directory is not in the EMPS layout or has inconsistent files."""


class HarvestError(IDEError):
    """A publisher request failed in a way that retrying will not fix."""


class DocumentError(IDEError):
    """An article file could not be parsed into figures."""


class ClusterError(IDEError):
    """A cluster address or cluster config file is invalid, Dask is not installed, or the cluster
    cannot be reached; the message names the address or the file and key."""
