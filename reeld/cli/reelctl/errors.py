"""reelctl's failures and the exit codes they map to (listed in ``reelctl --help``)."""

EXIT_OK = 0
EXIT_FAILED = 1  # the daemon reported an error, or a sync or login failed
EXIT_NOT_RUNNING = 2  # the daemon is not running, or the bus cannot be reached
EXIT_NOT_FOUND = 3  # no such item, library, source or account
EXIT_INVALID = 4  # a malformed or ambiguous argument
EXIT_USAGE = 64  # the command line itself is wrong (EX_USAGE)
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = f"""\
exit status:
  {EXIT_OK}    success
  {EXIT_FAILED}    the daemon reported an error, or a sync or login failed
  {EXIT_NOT_RUNNING}    the reeld daemon is not running, or the D-Bus bus cannot be reached
  {EXIT_NOT_FOUND}    no such item, library, source or account (NotFound)
  {EXIT_INVALID}    a malformed or ambiguous argument (InvalidArgument)
  {EXIT_USAGE}   wrong command-line usage
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""

ERROR_PREFIX = "io.github.reeld.Reeld1.Error."

NOT_RUNNING_MESSAGE = (
    "the reeld daemon is not running (start it with 'systemctl --user start reeld' or 'reeld')"
)

# D-Bus errors meaning nobody owns the name and activation could not start the daemon.
_NOT_RUNNING_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Spawn.",
    # Where the bus starts reeld through systemd (SystemdService=), systemd's word for a unit that
    # failed to start (UnitFailed, NoSuchUnit, UnitMasked) comes back to the caller instead.
    "org.freedesktop.systemd1.",
)


class ReelctlError(Exception):
    """A failure to report as ``reelctl: <message>`` with an exit code; never a traceback."""

    exit_code = EXIT_FAILED


class DaemonNotRunning(ReelctlError):
    exit_code = EXIT_NOT_RUNNING

    def __init__(self, message: str = NOT_RUNNING_MESSAGE) -> None:
        super().__init__(message)


class BusUnavailable(ReelctlError):
    exit_code = EXIT_NOT_RUNNING


class NotFound(ReelctlError):
    exit_code = EXIT_NOT_FOUND


class InvalidArgument(ReelctlError):
    exit_code = EXIT_INVALID


class CallFailed(ReelctlError):
    """A D-Bus error the daemon (or the bus) answered with: ``<short name>: <message>``."""

    def __init__(self, error_name: str, message: str) -> None:
        self.error_name = error_name
        self.short_name = error_name.removeprefix(ERROR_PREFIX).rsplit(".", 1)[-1]
        self.message = message
        self.exit_code = {"NotFound": EXIT_NOT_FOUND, "InvalidArgument": EXIT_INVALID}.get(
            self.short_name, EXIT_FAILED
        )
        super().__init__(f"{self.short_name}: {message}")


def error_from_dbus(error_name: str, message: str) -> ReelctlError:
    if error_name.startswith(_NOT_RUNNING_ERRORS):
        return DaemonNotRunning(not_running_message())
    return CallFailed(error_name, message)


def not_running_message() -> str:
    """ "Not running", with why its last start failed when the daemon left that word (under bus
    activation its log goes where the person running reelctl does not look)."""
    from reeld.cli import start_failure
    from reeld.config import Paths

    failure = start_failure.read(Paths.from_env())
    if failure is None:
        return NOT_RUNNING_MESSAGE
    return f"the reeld daemon is not running: {failure.describe()}"
