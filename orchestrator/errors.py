"""The exception tree of orchestrator. Errors are translated to these at the edges.

    OrcError                       base; .exit_code is what the CLI exits with
    ├── ConfigError                orc.yaml / inventory / template problems (exit 1)
    ├── ValidationError            invalid manifests: .errors lists every problem (exit 1)
    ├── StoreError
    │   ├── ConflictError          compare-and-swap lost: the object changed since it was read
    │   └── NotFoundError
    ├── LockHeldError              another reconcile holds the lock (exit 3)
    ├── LabError                   the local lab cluster cannot be built or torn down
    └── TransportError             one host could not be reached or run a batch
        ├── HostUnreachable        .reason in {"refused", "timeout", "dns", "network", "auth", "hostkey", "error"}
        │   ├── AuthFailed
        │   └── HostKeyError       unknown or changed host key: no command ran
        └── CommandTimeout
"""

from __future__ import annotations

# Exit codes: documented and stable (see README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_PARTIAL = 4  # some hosts unreachable, the rest converged
EXIT_PENDING = 5  # some pods cannot run (cannot be scheduled, or wait out a back-off): not converged


class OrcError(Exception):
    exit_code = EXIT_FAILED


class ConfigError(OrcError):
    pass


class ValidationError(OrcError):
    """Every problem found, each already formatted as `<Kind> "<name>" is invalid: <path>: <msg>`."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class StoreError(OrcError):
    pass


class ConflictError(StoreError):
    pass


class NotFoundError(StoreError):
    pass


class LockHeldError(OrcError):
    exit_code = EXIT_LOCKED


class LabError(OrcError):
    pass


class TransportError(OrcError):
    def __init__(self, host: str, message: str):
        self.host = host
        self.message = message
        super().__init__(f"{host}: {message}")


class HostUnreachable(TransportError):
    def __init__(self, host: str, reason: str, message: str):
        self.reason = reason
        super().__init__(host, message)


class StreamSilent(HostUnreachable):
    """A stream with a heartbeat that stopped on an open connection (Transport.stream's `idle`)."""

    def __init__(self, host: str, message: str):
        super().__init__(host, "timeout", message)


class AuthFailed(HostUnreachable):
    def __init__(self, host: str, message: str):
        super().__init__(host, "auth", message)


class HostKeyError(HostUnreachable):
    def __init__(self, host: str, message: str):
        super().__init__(host, "hostkey", message)


class CommandTimeout(TransportError):
    pass
