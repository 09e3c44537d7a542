"""Registry errors. None of them knows about HTTP; the service maps them to statuses.

RegistryError
 ├── InvalidNameError          a model, alias or file name outside the allowed alphabet
 ├── ModelNotFoundError        no such registered model
 ├── VersionNotFoundError      the model exists, the version does not
 ├── AliasNotFoundError        the model exists, the alias does not
 ├── VersionConflictError      an import would overwrite a different version with the same number
 ├── ArtifactMissingError      metadata names a blob the store does not hold
 ├── ArtifactIntegrityError    a blob's sha256 differs from the one recorded: refused
 ├── UnsafeBundleError         links, devices, absolute or `..` paths, unknown members
 └── RegistryUnavailableError  the database cannot be reached or refused the query
"""


class RegistryError(Exception):
    """Base class of every registry error."""


class InvalidNameError(RegistryError, ValueError):
    pass


class ModelNotFoundError(RegistryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is not registered")
        self.name = name


class VersionNotFoundError(RegistryError):
    def __init__(self, name: str, version: int) -> None:
        super().__init__(f"model {name!r} has no version {version}")
        self.name = name
        self.version = version


class AliasNotFoundError(RegistryError):
    def __init__(self, name: str, alias: str) -> None:
        super().__init__(f"model {name!r} has no alias {alias!r}")
        self.name = name
        self.alias = alias


class VersionConflictError(RegistryError):
    pass


class ArtifactMissingError(RegistryError):
    pass


class ArtifactIntegrityError(RegistryError):
    pass


class UnsafeBundleError(RegistryError):
    pass


class RegistryUnavailableError(RegistryError):
    """The database is down, unreachable or locked out: try again, nothing is wrong with
    the request."""
