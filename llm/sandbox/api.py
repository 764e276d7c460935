"""Run untrusted, model-written Python programs in a throw-away sandbox, one fresh process tree per program.

:func:`run_program` runs ``code`` with another interpreter (``python -I -S``, standard library only) and returns a
frozen :class:`SandboxResult`; :func:`run_many` runs many programs in parallel. Model code is never run in the
calling process. Containment, in layers (each that the machine supports; ``SandboxResult.isolation`` names those
applied); the threat model and what is *not* contained are in ``docs/sandbox.md``:

* resources: wall-clock timeout; ``RLIMIT_CPU``, ``RLIMIT_AS`` (memory), ``RLIMIT_NPROC`` (processes and threads),
  ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0``; stdout and stderr capped (the program is killed past
  the cap); stdin is ``/dev/null``; a fresh minimal environment (no secret of the caller's);
* identity: as root, a fresh unprivileged uid/gid per call (so ``RLIMIT_NPROC`` binds and concurrent sandboxes do
  not share it); as an ordinary user, the caller's uid, with ``RLIMIT_NPROC`` set to its current task count plus
  the budget (or the budget alone inside a user namespace);
* namespaces: new network (no interface but a down loopback), IPC, PID and mount namespaces (root directly,
  ordinary users through a user namespace where the kernel allows it); the work directory is a size-capped tmpfs
  in the mount namespace;
* Landlock: writes only inside the throw-away directory (and ``/dev/null``), reads and executes only under the
  system and interpreter directories, no TCP bind/connect, no signals to processes outside the sandbox;
* seccomp: ``socket()`` of any family but ``AF_UNIX`` fails with ``EACCES``, ``io_uring`` is off;
* clean-up: nothing outlives a call. A supervisor process (a child subreaper) kills the program's whole tree, also
  children that left its session with ``setsid()``; as root, every process left with the sandbox uid is killed too.

Process tree: caller -> fork server ``Z`` (one per calling process, started on first use; it saves each program
an interpreter start) -> supervisor ``S`` (one per program; namespaces, wall clock, clean-up) -> reaper ``P`` (pid 1
of the new PID namespace) -> program ``Q`` (limits, uid, Landlock, seccomp, then ``execve`` of the interpreter).
``S`` reports to the caller through a pipe; the caller closing ``S``'s stdin (or dying) makes ``S`` kill
everything, remove the directory and exit. Needs Linux >= 5.3 (pidfds); Landlock needs >= 5.13.
"""

from __future__ import annotations

import atexit
import marshal
import math
import os
import random
import re
import selectors
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from llm.sandbox.supervisor import ALWAYS, descendants

__all__ = [
    "ISOLATION_TAGS", "STATUSES", "IsolationError", "SandboxError", "SandboxResult", "find_interpreter",
    "platform_isolation", "run_many", "run_program",
]

#: The supervisor script, run by another interpreter (``python -I -S``).
SUPERVISOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "supervisor.py")

STATUSES = ("ok", "error", "timeout", "memory", "killed")
UID_BASE, UID_SPAN = 1_900_000_000, 1 << 26  # fresh sandbox uids/gids (as root): far above any real user's
STARTUP_GRACE_S = 15.0  # extra wall clock the caller allows the supervisor (interpreter start on a loaded machine)
_MEMORY_RE = re.compile(rb"(^|\n)MemoryError\b|Cannot allocate memory|out of memory", re.IGNORECASE)
_SYSTEM_READ_ROOTS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc", "/dev")


ISOLATION_TAGS = (
    "rlimits", "uid", "userns", "netns", "pidns", "ipcns", "tmpfs-workdir", "landlock-fs", "landlock-net",
    "landlock-signal", "seccomp-net", *ALWAYS,
)
NAMESPACE_TAGS = ("userns", "netns", "pidns", "ipcns", "tmpfs-workdir")  # what ``namespaces=False`` gives up
MIN_ISOLATION_ENV = "PERSUASION_SANDBOX_MIN_ISOLATION"  # "none", "platform" or comma-separated tags


class SandboxError(RuntimeError):
    """The sandbox itself could not be set up (one-line message); the program did not run."""


class IsolationError(SandboxError):
    """A layer of the required minimum isolation was not in force, so the program was not run (one line)."""


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program.

    Attributes:
        status: ``"ok"`` (exit code 0 within every limit), ``"error"`` (non-zero exit), ``"timeout"`` (wall-clock
            or CPU limit), ``"memory"`` (the address-space limit was hit) or ``"killed"`` (a signal, the output
            cap, or the sandbox lost its supervisor).
        returncode: the exit code if the program exited, else None.
        signal: the number of the signal that ended the program, else None.
        wall_time: seconds from start to end of the program (the supervisor's clock).
        cpu_time: user + system CPU seconds of the program and its reaped children.
        stdout: captured standard output (UTF-8, undecodable bytes replaced), at most ``max_output_bytes``.
        stderr: captured standard error, the same way.
        truncated: whether an output stream reached the cap (the program was then killed).
        reason: one line on why the status is not ``"ok"``; empty when it is.
        isolation: the containment layers that were in force (see the module docstring).
    """

    status: str
    returncode: int | None
    signal: int | None
    wall_time: float
    cpu_time: float
    stdout: str
    stderr: str
    truncated: bool
    reason: str
    isolation: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True iff the program exited with code 0 within every limit."""
        return self.status == "ok"


_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()
_uid_rng = random.SystemRandom()


def _allocate_uid() -> int:
    with _uid_lock:
        while True:
            uid = UID_BASE + _uid_rng.randrange(UID_SPAN)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def _release_uid(uid: int) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)


def _world_executable(path: str) -> bool:
    """Whether any user may execute ``path``: every directory on the way is o+x and the file o+rx."""
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode
        if not (mode & stat.S_IXOTH and mode & stat.S_IROTH):
            return False
        parent = os.path.dirname(real)
        while True:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            if parent == os.path.dirname(parent):
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def find_interpreter() -> str:
    """A Python interpreter that an unprivileged sandbox uid can execute.

    ``sys.executable`` if every user may run it; otherwise a system ``python3.X`` of the same version, then any
    ``python3`` (a venv or pyenv under a private home directory is not reachable by other users).

    Raises:
        SandboxError: no such interpreter exists.
    """
    if _world_executable(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name in (version, "python3"):
        for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
            path = os.path.join(folder, name)
            if os.path.exists(path) and _world_executable(path):
                return path
    raise SandboxError(f"no Python interpreter executable by other users (sys.executable={sys.executable})")


def _read_roots(interpreter: str, extra: Iterable[str]) -> list[str]:
    """Directories the program may read and execute from: system ones, the interpreter's prefix, ``extra``."""
    roots = list(_SYSTEM_READ_ROOTS)
    roots.append(os.path.dirname(os.path.dirname(os.path.realpath(interpreter))))
    if os.path.realpath(interpreter) == os.path.realpath(sys.executable):
        roots += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    roots += [os.path.abspath(p) for p in extra]
    return sorted({r for r in roots if os.path.exists(r)})


def _child_env(workdir: str) -> dict[str, str]:
    """The whole environment of the program: fresh, nothing inherited from the caller."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # fewer 64 MB malloc arenas reserved per thread under RLIMIT_AS
    }


def _classify(
    outcome: str,
    returncode: int | None,
    signum: int | None,
    cpu_time: float,
    cpu_seconds: int,
    stderr: bytes,
    overflow: str,
    timeout: float,
) -> tuple[str, str]:
    """The status and one-line reason for a finished program (pure).

    ``outcome`` is the supervisor's: ``"exited"`` (the program ended by itself), ``"timeout"`` (wall clock),
    ``"aborted"`` (stopped by the caller) or ``"lost"`` (no report came back). ``overflow`` names the stream
    that hit the output cap, if any. ``ok`` iff the program exited 0, no limit was hit and nothing overflowed.
    """
    if overflow:
        return "killed", f"{overflow} exceeded the output cap; the program was killed"
    if outcome == "timeout":
        return "timeout", f"exceeded the wall-clock limit of {timeout:g} s"
    if outcome != "exited" or (returncode is None and signum is None):
        return "killed", "the sandbox supervisor was stopped before the program ended"
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu_time >= cpu_seconds):
        return "timeout", f"exceeded the CPU limit of {cpu_seconds} s"
    failed = returncode != 0
    if failed and _MEMORY_RE.search(stderr[-4096:]):
        return "memory", "ran out of memory (address-space limit)"
    if signum is not None:
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        return "killed", f"killed by signal {name}"
    if failed:
        return "error", f"exited with code {returncode}"
    return "ok", ""


def _kill_uid(uid: int) -> None:
    """Root only: SIGKILLs every process whose real uid is ``uid`` until none is left (a fresh sandbox uid)."""
    for _ in range(1000):
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/status", "rb") as fh:
                    line = next(ln for ln in fh if ln.startswith(b"Uid:"))
            except (OSError, StopIteration):
                continue
            if int(line.split()[1]) == uid:
                found = True
                try:
                    os.kill(int(name), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.002)


def _remove_tree(path: str) -> None:
    """Removes the work directory, also directories the program made unreadable (a second pass after chmod)."""

    def unlock(_func: Any, target: str, _exc: Any) -> None:
        for item in (os.path.dirname(target), target):
            try:
                os.chmod(item, 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass

    for _ in range(3):
        if not os.path.lexists(path):
            return
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=unlock)
        else:
            shutil.rmtree(path, onerror=unlock)


def _world_traversable(folder: str) -> bool:
    """Whether every directory from ``/`` down to ``folder`` is o+x (a sandbox uid can reach inside it)."""
    folder = os.path.realpath(folder)
    while True:
        try:
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if folder == os.path.dirname(folder):
            return True
        folder = os.path.dirname(folder)


_platform_lock = threading.Lock()
_platform_tags: frozenset[str] | None = None


def platform_isolation() -> frozenset[str]:
    """The isolation layers this machine offers this caller (root or not), probed once per process.

    Probed in a throw-away child that tries each kernel mechanism on its own (not through the sandbox's set-up
    code), so it is the yardstick for :func:`run_program`'s default ``min_isolation="platform"``.

    Example:
        >>> {"rlimits", "workdir"} <= platform_isolation()
        True
    """
    global _platform_tags
    with _platform_lock:
        if _platform_tags is None:
            try:
                out = subprocess.run(
                    [sys.executable, "-I", "-S", SUPERVISOR, "--probe"], capture_output=True,
                    timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd="/", stdin=subprocess.DEVNULL,
                ).stdout.decode()
            except (OSError, subprocess.SubprocessError):
                out = ""
            tags = frozenset(out.split()) & set(ISOLATION_TAGS)
            _platform_tags = tags | {"rlimits", *ALWAYS}
        return _platform_tags


def required_isolation(min_isolation: str | Iterable[str] | None, namespaces: bool = True) -> frozenset[str]:
    """The layers a call must have in force, from ``min_isolation`` (see :func:`run_program`).

    ``"platform"`` (the default) reads ``$PERSUASION_SANDBOX_MIN_ISOLATION`` if set (``none``, ``platform`` or
    comma-separated tags), else means every layer :func:`platform_isolation` reports, less the namespace layers
    when the caller passed ``namespaces=False``; ``None`` or ``"none"`` means no minimum (an explicit opt-out);
    an iterable names the layers.

    Raises:
        ValueError: an unknown layer name (one line listing the known ones).
    """
    if isinstance(min_isolation, str) and min_isolation == "platform":
        env = os.environ.get(MIN_ISOLATION_ENV, "").strip()
        if env and env != "platform":
            min_isolation = env if env == "none" else [t.strip() for t in env.split(",") if t.strip()]
    if min_isolation is None or (isinstance(min_isolation, str) and min_isolation == "none"):
        return frozenset()
    if isinstance(min_isolation, str) and min_isolation == "platform":
        tags = platform_isolation()
        return tags if namespaces else tags - set(NAMESPACE_TAGS)
    if isinstance(min_isolation, str):
        raise ValueError(f"min_isolation must be 'platform', None or a list of layers, got {min_isolation!r}")
    tags = frozenset(min_isolation)
    unknown = sorted(tags - set(ISOLATION_TAGS))
    if unknown:
        raise ValueError(f"unknown isolation layer(s) {', '.join(unknown)}; known: {', '.join(ISOLATION_TAGS)}")
    return tags


def _check_limits(memory_mb: int, cpu_seconds: int, max_processes: int, max_file_mb: int, max_disk_mb: int,
                  max_output_bytes: int, max_open_files: int) -> None:
    """Raises a one-line ``ValueError`` naming the first integer limit that is out of range."""
    for name, value, low in (
        ("memory_mb", memory_mb, 16),
        ("cpu_seconds", cpu_seconds, 1),
        ("max_processes", max_processes, 1),
        ("max_file_mb", max_file_mb, 0),
        ("max_disk_mb", max_disk_mb, 1),
        ("max_output_bytes", max_output_bytes, 0),
        ("max_open_files", max_open_files, 16),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def run_program(
    code: str,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    *,
    cpu_seconds: int | None = None,
    max_processes: int = 8,
    max_file_mb: int = 16,
    max_disk_mb: int = 64,
    max_output_bytes: int = 1 << 20,
    max_open_files: int = 256,
    read_paths: Sequence[str] = (),
    namespaces: bool = True,
    interpreter: str | None = None,
    min_isolation: str | Iterable[str] | None = "platform",
) -> SandboxResult:
    """Runs the Python program ``code`` in a fresh sandbox and returns what happened (see the module docstring).

    Args:
        code: the program's source; it runs as ``python -I -S main.py`` in an empty, throw-away working directory
            (removed afterwards) that is also its ``HOME`` and ``TMPDIR``.
        timeout: wall-clock limit in seconds.
        memory_mb: address-space limit (``RLIMIT_AS``) per process, in MiB.
        cpu_seconds: CPU limit per process (``RLIMIT_CPU``); default ``ceil(timeout) + 1``.
        max_processes: processes and threads the program may have at once, itself included (``RLIMIT_NPROC``).
        max_file_mb: largest file the program may write (``RLIMIT_FSIZE``), in MiB.
        max_disk_mb: total size of what it may write, in MiB (a tmpfs work directory; where namespaces allow).
        max_output_bytes: cap on each of stdout and stderr; a program that reaches it is killed.
        max_open_files: ``RLIMIT_NOFILE``.
        read_paths: extra directories the program may read (besides the system and interpreter directories).
        namespaces: use network/PID (and, for ordinary users, user) namespaces where the kernel allows them.
        interpreter: the Python to run the program with; default :func:`find_interpreter` as root (the sandbox
            uid must be able to execute it), else ``sys.executable``.
        min_isolation: layers that must be in force, checked by the program's process after confining itself and
            before the interpreter starts: ``"platform"`` (default: all that :func:`platform_isolation` offers,
            see :func:`required_isolation`), an iterable of :data:`ISOLATION_TAGS`, or ``None`` to accept
            whatever the machine gives (an explicit opt-out; also ``PERSUASION_SANDBOX_MIN_ISOLATION=none``).

    Returns:
        A frozen :class:`SandboxResult`; ``result.ok`` iff the program exited 0 within every limit.

    Raises:
        ValueError: a limit is out of range, or ``min_isolation`` names an unknown layer.
        IsolationError: a required layer was not in force (one line naming it; the program did not run).
        SandboxError: the sandbox could not be set up (the program did not run).
    """
    if not isinstance(code, str):
        raise ValueError(f"code must be a str, got {type(code).__name__}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    cpu_seconds = math.ceil(timeout) + 1 if cpu_seconds is None else cpu_seconds
    _check_limits(memory_mb, cpu_seconds, max_processes, max_file_mb, max_disk_mb, max_output_bytes, max_open_files)
    required = required_isolation(min_isolation, bool(namespaces))
    as_root = os.geteuid() == 0
    interp = interpreter or (find_interpreter() if as_root else sys.executable)
    uid = _allocate_uid() if as_root else None
    base = tempfile.gettempdir()
    if as_root and not _world_traversable(base):
        base = "/tmp"  # the sandbox uid must be able to reach its directory
    workdir = tempfile.mkdtemp(prefix="sandbox-", dir=base)
    try:
        program = os.path.join(workdir, "main.py")
        with open(program, "w", encoding="utf-8") as fh:
            fh.write(code)
        os.chmod(program, 0o644)
        if uid is not None:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        cfg = {
            "uid": uid,
            "gid": uid,
            "workdir": workdir,
            "program": program,
            "interpreter": interp,
            "env": _child_env(workdir),
            "read_roots": _read_roots(interp, read_paths),
            "timeout": float(timeout),
            "memory_mb": memory_mb,
            "cpu_seconds": cpu_seconds,
            "max_processes": max_processes,
            "max_file_mb": max_file_mb,
            "max_disk_mb": max_disk_mb,
            "max_open_files": max_open_files,
            "namespaces": bool(namespaces),
            "required": sorted(required),
            "ns_tags": [],
        }
        return _run_supervisor(cfg, max_output_bytes)
    finally:
        if uid is not None:
            _kill_uid(uid)  # the last guarantee: nothing with the sandbox uid survives the call
            _release_uid(uid)
        _remove_tree(workdir)


class _Zygote:
    """The caller's handle on its fork server (see ``_zygote_main``); thread-safe, restarted when it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._owner = -1  # pid of the process that started it (a forked caller must start its own)

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", SUPERVISOR, "--zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), start_new_session=True, env={"PATH": "/usr/bin:/bin"}, cwd="/",
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(30.0)
        self._sock, self._owner = ours, os.getpid()

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._proc is not None and self._owner == os.getpid():
            try:
                self._proc.wait(timeout=5.0)  # it exits once its socket closes
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc, self._sock, self._owner = None, None, -1

    def spawn(self, cfg: bytes, fds: list[int]) -> tuple[int, int] | None:
        """Forks a supervisor with ``fds`` as its stdin, stdout, stderr and report pipe; returns (pid, pidfd).

        None if the fork server cannot be started (the caller then starts the supervisor directly).

        Raises:
            SandboxError: the request went out but no valid answer came back (the caller then closes its pipe
                ends, so a supervisor that did start kills its program at once).
        """
        with self._lock:
            for _ in range(2):
                try:
                    if self._proc is None or self._owner != os.getpid() or self._proc.poll() is not None:
                        self._drop()
                        self._start()
                    assert self._sock is not None
                    socket.send_fds(self._sock, [cfg], fds)  # SOCK_SEQPACKET: all or nothing
                except OSError:
                    self._drop()
                    continue
                try:
                    msg, got, _, _ = socket.recv_fds(self._sock, 16, 1)
                except OSError as exc:
                    self._drop()
                    raise SandboxError(f"the sandbox fork server did not answer: {exc}") from None
                if len(msg) == 4 and len(got) == 1:
                    return int.from_bytes(msg, "little"), got[0]
                for fd in got:
                    os.close(fd)
                self._drop()
                raise SandboxError("the sandbox fork server died while starting a supervisor")
            return None

    def close(self) -> None:
        with self._lock:
            self._drop()


_ZYGOTE = _Zygote()
atexit.register(_ZYGOTE.close)


def _run_supervisor(cfg: dict[str, Any], cap: int) -> SandboxResult:
    """Starts the supervisor, collects output and reports, and turns them into a :class:`SandboxResult`."""
    control_r, control_w = os.pipe()  # S's stdin: closing our end tells S to kill the program
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe()
    theirs = [control_r, out_w, err_w, report_w]
    proc: subprocess.Popen | None = None
    try:
        spawned = _ZYGOTE.spawn(marshal.dumps(cfg), theirs)
        if spawned is None:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", SUPERVISOR,
                 marshal.dumps(dict(cfg, report_fd=report_w)).hex()],
                stdin=control_r, stdout=out_w, stderr=err_w, pass_fds=(report_w,), start_new_session=True,
                env=_child_env(cfg["workdir"]), cwd=cfg["workdir"],
            )
            spawned = (proc.pid, -1)
    except BaseException:
        for fd in (control_w, out_r, err_r, report_r):
            os.close(fd)
        raise
    finally:
        for fd in theirs:  # S holds its copies: EOF on our ends once S, P and Q are gone
            os.close(fd)
    pid, pidfd = spawned
    try:
        data, overflow, lost = _collect({out_r: "stdout", err_r: "stderr", report_r: "report"}, control_w,
                                        cfg["timeout"] + STARTUP_GRACE_S, cap)
    finally:
        for fd in (out_r, err_r, report_r):
            os.close(fd)
        if lost:
            _kill_supervisor(pid, pidfd)
        if pidfd >= 0:
            os.close(pidfd)
        if proc is not None:
            proc.wait()
    messages = _decode_reports(bytes(data["report"]))
    refused = next((m["refused"] for m in messages if "refused" in m), None)
    if refused:
        raise IsolationError(
            f"sandbox isolation below the required minimum: {', '.join(refused)} not in force on this machine, so "
            f"the program was not run (pass min_isolation=None or set {MIN_ISOLATION_ENV}=none to accept that)"
        )
    errors = [m["setup_error"] for m in messages if "setup_error" in m]
    if errors:
        raise SandboxError(f"sandbox setup failed: {errors[0]}")
    program = next((m for m in messages if "exit" in m or "signal" in m), {})
    final = next((m for m in messages if "outcome" in m), {})
    outcome = "timeout" if lost else final.get("outcome", "lost")
    isolation = ["process-group", "fresh-env", "workdir"]
    for m in messages:
        isolation += m.get("isolation", [])
    stderr = bytes(data["stderr"])
    status, reason = _classify(
        outcome, program.get("exit"), program.get("signal"), program.get("cpu", 0.0), cfg["cpu_seconds"],
        stderr, overflow, cfg["timeout"],
    )
    if lost and not overflow:
        reason = "the sandbox supervisor did not finish within the timeout plus a start-up grace"
    return SandboxResult(
        status=status,
        returncode=program.get("exit"),
        signal=program.get("signal"),
        wall_time=float(program.get("wall", final.get("wall", 0.0))),
        cpu_time=float(program.get("cpu", 0.0)),
        stdout=bytes(data["stdout"]).decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace"),
        truncated=bool(overflow),
        reason=reason,
        isolation=tuple(dict.fromkeys(isolation)),
    )


def _collect(
    streams: dict[int, str], control_w: int, budget: float, cap: int
) -> tuple[dict[str, bytearray], str, bool]:
    """Reads stdout, stderr (each up to ``cap`` bytes) and the report pipe until all three close.

    A stream past ``cap`` makes the caller close ``control_w`` (the supervisor's stdin), which kills the program;
    so does leaving this function for any reason. Returns the data, the name of the stream that overflowed (or
    ``""``), and whether the supervisor failed to finish within ``budget`` seconds.
    """
    data = {name: bytearray() for name in streams.values()}
    overflow, lost, control_open = "", False, True
    deadline = time.monotonic() + budget
    sel = selectors.DefaultSelector()
    try:
        for fd in streams:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                lost = True
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 1 << 16)
                name = streams[key.fd]
                if not chunk:
                    sel.unregister(key.fd)
                elif name == "report":
                    data[name] += chunk
                else:
                    room = max(cap - len(data[name]), 0)
                    data[name] += chunk[:room]
                    if len(chunk) > room and not overflow:
                        overflow, control_open = name, False
                        os.close(control_w)  # S kills the program and reports "aborted"
    finally:
        sel.close()
        if control_open:
            os.close(control_w)  # also on an exception here (KeyboardInterrupt): S cleans up and exits
    return data, overflow, lost


def _kill_supervisor(pid: int, pidfd: int) -> None:
    """Backup clean-up when the supervisor does not finish: every descendant, then the supervisor itself."""
    for child in descendants(pid):
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    try:
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _decode_reports(raw: bytes) -> list[dict[str, Any]]:
    """Splits the report stream into messages (4-byte little-endian length, then ``marshal`` data)."""
    out, pos = [], 0
    while pos + 4 <= len(raw):
        (size,) = struct.unpack_from("<I", raw, pos)
        if pos + 4 + size > len(raw):
            break
        message = marshal.loads(raw[pos + 4 : pos + 4 + size])
        if isinstance(message, dict):
            out.append(message)
        pos += 4 + size
    return out


def run_many(programs: Sequence[str], workers: int | None = None, **limits: Any) -> list[SandboxResult]:
    """Runs each program with :func:`run_program` (same ``limits``), ``workers`` sandboxes at a time.

    Args:
        programs: program sources.
        workers: parallel sandboxes; default the number of CPUs this process may use.
        **limits: keyword arguments of :func:`run_program` (``timeout``, ``memory_mb``, ...).

    Returns:
        The results, in the order of ``programs``.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0))
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    programs = list(programs)
    if not programs:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(programs))) as pool:
        return list(pool.map(lambda code: run_program(code, **limits), programs))
