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

import ctypes
import marshal
import os
import resource
import select
import struct
import sys
import time

# ---------------------------------------------------------------------------------------------------------------
# Part 1: the supervisor side. This file is also the supervisor script (``python -I -S sandbox.py <config>``), so
# this part imports only cheap built-in modules; the ``__main__`` guard below ends the script before Part 2
# (``dataclasses`` alone costs ~25 ms of interpreter start-up per program).
# ---------------------------------------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE, MNT_DETACH = 2, 4, 1 << 14, 1 << 18, 2
WORKDIR_INODES = 4096  # files and directories the program may create in its tmpfs work directory
SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture that has it (x86_64, aarch64, ...)
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
SYS_IO_URING_SETUP = 425

# Landlock access rights (linux/landlock.h); ABI versions add rights, see _landlock().
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LL_WRITE_ALL = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write, remove, make char/dir/reg/...
LL_REFER, LL_TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
LL_READ_ALL = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
LL_NET_BIND_TCP, LL_NET_CONNECT_TCP = 1, 2  # ABI 4
LL_SCOPE_ABSTRACT_UNIX, LL_SCOPE_SIGNAL = 1, 2  # ABI 6

# seccomp: (audit arch, socket syscall number, whether x32 syscalls must be refused) per machine.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41, True), "aarch64": (0xC00000B7, 198, False)}
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
EACCES, EPERM = 13, 1
SIGKILL = 9  # the same on every Linux architecture; the ``signal`` module costs ~10 ms to import
ALWAYS = ("process-group", "fresh-env", "workdir")  # isolation tags the caller applies on every platform

_libc: Any = None


def _get_libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _check(res: int, what: str) -> int:
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return res


def _syscall(number: int, *args: Any) -> int:
    """``syscall(2)`` through ctypes; raises ``OSError`` on failure."""
    return _check(int(_get_libc().syscall(ctypes.c_long(number), *args)), f"syscall {number}")


def _prctl(option: int, arg2: Any, arg3: Any = None) -> None:
    zero = ctypes.c_ulong(0)
    arg3 = zero if arg3 is None else arg3
    _check(_get_libc().prctl(ctypes.c_int(option), arg2, arg3, zero, zero), f"prctl({option})")


def _unshare(flags: int) -> None:
    _check(_get_libc().unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def _mount(source: bytes | None, target: str, fstype: bytes | None, flags: int, data: bytes | None) -> None:
    _check(_get_libc().mount(source, target.encode(), fstype, ctypes.c_ulong(flags), data), f"mount({target})")


def _report(fd: int, **message: Any) -> None:
    """Sends one message to the caller: a 4-byte length, then ``marshal`` data (one atomic pipe write)."""
    data = marshal.dumps(message)
    os.write(fd, struct.pack("<I", len(data)) + data)


def _enter_namespaces(as_root: bool) -> list[str]:
    """Moves the supervisor into new network, IPC and PID namespaces (the PID one takes effect for its children).

    The network namespace has only a down loopback; the IPC one makes System V IPC objects and POSIX message
    queues private and gone with the sandbox; in the PID one the reaper is pid 1, and its exit kills the rest.

    Root unshares them directly; an ordinary user needs a user namespace first (mapping its own uid and gid onto
    themselves). Returns the namespaces entered; none where the kernel or a container forbids them.
    """
    if as_root:
        tags = []
        for flag, tag in ((CLONE_NEWNET, "netns"), (CLONE_NEWPID, "pidns"), (CLONE_NEWIPC, "ipcns")):
            try:
                _unshare(flag)
                tags.append(tag)
            except OSError:
                continue
        return tags
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC)
    except OSError:
        return []
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"), ("gid_map", f"{gid} {gid} 1\n")):
        try:
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError:
            pass  # ids stay unmapped: file access still uses the real ids; only names in the namespace differ
    return ["userns", "netns", "pidns", "ipcns"]


def _private_workdir(cfg: dict[str, Any]) -> list[str]:
    """Gives the sandbox its own mount namespace with a size-capped tmpfs over the work directory.

    Bounds what the program can write in total (``max_disk_mb``, ``WORKDIR_INODES`` entries), where
    ``RLIMIT_FSIZE`` only bounds each file; the tmpfs vanishes with the sandbox. Needs root or a user namespace;
    returns ``["tmpfs-workdir"]``, or nothing when it could not be done (then nothing was mounted).
    """
    try:
        _unshare(CLONE_NEWNS)
        # Only the new namespace is touched from here on; first cut mount propagation back to the caller's.
        _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    except OSError:
        return []
    with open(cfg["program"], "rb") as fh:
        source = fh.read()
    ids = f",uid={cfg['uid']},gid={cfg['gid']}" if cfg["uid"] is not None else ""
    options = f"size={cfg['max_disk_mb']}m,nr_inodes={WORKDIR_INODES},mode=0700{ids}"
    try:
        _mount(b"tmpfs", cfg["workdir"], b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())
    except OSError:
        return []
    fd = os.open(cfg["program"], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, source)
    finally:
        os.close(fd)
    return ["tmpfs-workdir"]


def _count_tasks(uid: int) -> int:
    """Tasks (threads) whose real uid is ``uid``: what ``RLIMIT_NPROC`` counts for a user."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as fh:
                text = fh.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in text.splitlines() if b":" in line)
        try:
            if int(fields[b"Uid"].split()[0]) == uid:
                total += int(fields[b"Threads"])
        except (KeyError, ValueError, IndexError):
            continue
    return total


def _set_rlimits(cfg: dict[str, Any], nproc: int) -> None:
    mb = 1 << 20
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_AS: cfg["memory_mb"] * mb,
        resource.RLIMIT_FSIZE: cfg["max_file_mb"] * mb,
        resource.RLIMIT_NOFILE: cfg["max_open_files"],
        resource.RLIMIT_NPROC: nproc,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # Soft limit: SIGXCPU (reported as a timeout); hard limit one second later: SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cfg["cpu_seconds"], cfg["cpu_seconds"] + 1))


def _drop_privileges(uid: int, gid: int) -> None:
    """Root only: no supplementary groups, then real, effective and saved gid and uid become ``gid`` and ``uid``."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise OSError(EPERM, f"could not drop to uid {uid} / gid {gid}")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _landlock(workdir: str, read_roots: list[str]) -> list[str]:
    """Restricts this process and its future children with Landlock; returns the restrictions applied.

    Writes are allowed only beneath ``workdir`` (and to ``/dev/null``); reads and executes only beneath
    ``read_roots`` and ``workdir``. From ABI 4, TCP ``bind``/``connect`` are denied; from ABI 6, signals to and
    abstract unix sockets of processes outside the sandbox. Needs ``no_new_privs`` set.
    """
    try:
        abi = _syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        return []  # kernel without Landlock, or Landlock disabled at boot
    write = LL_WRITE_ALL | (LL_REFER if abi >= 2 else 0) | (LL_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(fs=write | LL_READ_ALL, net=0, scoped=0)
    size, tags = 8, ["landlock-fs"]
    if abi >= 4:
        attr.net, size = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP, 16
        tags.append("landlock-net")
    if abi >= 6:
        attr.scoped, size = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL, 24
        tags.append("landlock-signal")
    ruleset = _syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        rules = [(workdir, write | LL_READ_ALL, False), ("/dev/null", LL_WRITE_FILE | LL_READ_FILE, True)]
        rules += [(root, LL_READ_ALL, False) for root in read_roots]
        for path, access, is_file in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # e.g. /lib32 on a machine without it
            try:
                if is_file and abi >= 3:
                    access |= LL_TRUNCATE
                rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
                _syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), 0)
            finally:
                os.close(fd)
        _syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return tags


def _seccomp_filter(machine: str) -> bytes | None:
    """A classic-BPF seccomp program: ``socket(family != AF_UNIX)`` and ``io_uring_setup`` fail, the rest runs.

    A foreign syscall ABI (32-bit ``int 0x80``, x32) kills the process, since its numbers would slip past the
    checks. Returns None on a machine this module has no syscall numbers for.
    """
    if machine not in _SECCOMP_ARCH:
        return None
    arch, nr_socket, refuse_x32 = _SECCOMP_ARCH[machine]
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    # Each entry: (code, jump-if-true label, jump-if-false label, k); labels are resolved below.
    prog: list[tuple[int, str | None, str | None, int]] = [
        (ld_abs, None, None, 4),  # seccomp_data.arch
        (jeq, None, "kill", arch),
        (ld_abs, None, None, 0),  # seccomp_data.nr
    ]
    if refuse_x32:
        prog.append((jge, "kill", None, 0x40000000))
    prog += [
        (jeq, "socket", None, nr_socket),
        (jeq, "deny", None, SYS_IO_URING_SETUP),
        (ret, None, None, _RET_ALLOW),
    ]
    labels = {"socket": len(prog)}
    prog += [(ld_abs, None, None, 16), (jeq, "allow", "deny", 1)]  # args[0] (low 32 bits) == AF_UNIX
    labels.update(allow=len(prog), deny=len(prog) + 1, kill=len(prog) + 2)
    prog += [(ret, None, None, _RET_ALLOW), (ret, None, None, _RET_ERRNO | EACCES), (ret, None, None, _RET_KILL)]
    out = b""
    for i, (code, jt, jf, k) in enumerate(prog):
        t = labels[jt] - i - 1 if jt else 0
        f = labels[jf] - i - 1 if jf else 0
        out += struct.pack("<HBBI", code, t, f, k)
    return out


def _seccomp() -> list[str]:
    """Installs :func:`_seccomp_filter` on this process (inherited by its children); needs ``no_new_privs``."""
    program = _seccomp_filter(os.uname().machine)
    if program is None:
        return []
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    try:
        _prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog))
    except OSError:
        return []
    return ["seccomp-net"]


def _exec_program(cfg: dict[str, Any], report_fd: int, nproc: int, reaper: int) -> None:
    """Process ``Q``: confines itself (limits, uid, Landlock, seccomp), then becomes the program. Never returns."""
    try:
        os.setsid()  # own session and process group: signals to its group cannot reach P or S
        os.chdir(cfg["workdir"])
        _set_rlimits(cfg, nproc)
        tags = ["rlimits"]
        if cfg["uid"] is not None:
            _drop_privileges(cfg["uid"], cfg["gid"])
            tags.append("uid")
        _prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(SIGKILL))  # after the uid change, which clears it
        if os.getppid() != reaper:
            raise OSError(EPERM, "the reaper died during set-up")
        _prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1))
        tags += _landlock(cfg["workdir"], cfg["read_roots"])
        tags += _seccomp()
        missing = [t for t in cfg["required"] if t not in set(tags) | set(cfg["ns_tags"]) | set(ALWAYS)]
        if missing:  # below the caller's minimum: the program must not run
            _report(report_fd, refused=missing)
            os._exit(127)
        _report(report_fd, isolation=tags)
        os.execve(cfg["interpreter"], [cfg["interpreter"], "-I", "-S", cfg["program"]], cfg["env"])
    except BaseException as exc:  # noqa: BLE001 - anything here means the program must not run
        try:
            _report(report_fd, setup_error=f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            os._exit(127)


def _run_reaper(cfg: dict[str, Any], report_fd: int, nproc: int) -> None:
    """Process ``P`` (pid 1 of the PID namespace if there is one): forks the program, reaps every process
    re-parented to it until the program exits, reports the program's exit status. Never returns."""
    try:
        _prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(SIGKILL))  # if S dies, P dies (and the namespace with it)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)  # the program's stdin: closed for reading (EOF at once)
        os.close(null)
        start, reaper = time.monotonic(), os.getpid()
        child = os.fork()
        if child == 0:
            _exec_program(cfg, report_fd, nproc, reaper)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == child:
                break
        wall = time.monotonic() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if os.WIFSIGNALED(status):
            _report(report_fd, signal=os.WTERMSIG(status), wall=wall, cpu=usage.ru_utime + usage.ru_stime)
        else:
            _report(report_fd, exit=os.WEXITSTATUS(status), wall=wall, cpu=usage.ru_utime + usage.ru_stime)
    except BaseException as exc:  # noqa: BLE001
        try:
            _report(report_fd, setup_error=f"reaper: {type(exc).__name__}: {exc}"[:1000])
        except OSError:
            pass
    os._exit(0)


def _descendants(root: int) -> list[int]:
    """Pids of every live descendant of ``root``, from the parent links in ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                line = fh.read()
            ppid = int(line[line.rindex(b")") + 2 :].split()[1])  # the command name may hold spaces and ")"
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def _kill_tree() -> bool:
    """SIGKILLs and reaps all of this (subreaper) process's descendants; True once none is left.

    A subreaper's orphaned descendants are re-parented to it, so "no child left" means "no descendant left",
    also for processes that left the session with ``setsid()``. Each round kills every descendant seen; a process
    forked meanwhile is caught by the next round (``RLIMIT_NPROC`` bounds how many there can be).
    """
    for _ in range(2000):
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return True
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)
    return False


def _supervise(cfg: dict[str, Any], report_fd: int) -> None:
    """Process ``S``: namespaces, then the reaper and program; enforces the wall clock; kills everything left."""
    _prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1))
    tags = _enter_namespaces(cfg["uid"] is not None) if cfg["namespaces"] else []
    if cfg["namespaces"] and (cfg["uid"] is not None or "userns" in tags):
        tags += _private_workdir(cfg)
    cfg["ns_tags"] = tags  # for the program's own minimum-isolation check (P and Q are forks of this process)
    # RLIMIT_NPROC counts the tasks of a user (in a user namespace: of the user in that namespace). The program
    # and its children may hold ``max_processes`` of them; what else counts: nothing for a fresh uid, S and P in
    # a user namespace, the caller's whole uid (as counted now) plus P otherwise.
    if cfg["uid"] is not None:
        nproc = cfg["max_processes"]
    elif "userns" in tags:
        nproc = cfg["max_processes"] + 2
    else:
        nproc = cfg["max_processes"] + _count_tasks(os.getuid()) + 1
    start = time.monotonic()
    reaper = os.fork()
    if reaper == 0:
        _run_reaper(cfg, report_fd, nproc)
    outcome = "exited"
    pidfd = os.pidfd_open(reaper)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(0, select.POLLIN)  # the caller's control pipe: EOF (or anything) means abort
    deadline = start + cfg["timeout"]
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            outcome = "timeout"
            break
        fds = {fd for fd, _ in poller.poll(max(1, int(left * 1000 + 0.5)))}
        if pidfd in fds:
            break
        if 0 in fds:
            outcome = "aborted"
            break
    wall = time.monotonic() - start
    _kill_tree()  # the reaper too, if still running; its death ends a PID namespace
    if outcome == "aborted":  # the caller may be gone: remove the work directory ourselves
        import shutil

        if "tmpfs-workdir" in tags:
            _get_libc().umount2(cfg["workdir"].encode(), ctypes.c_int(MNT_DETACH))
        shutil.rmtree(cfg["workdir"], ignore_errors=True)
    _report(report_fd, outcome=outcome, wall=wall, isolation=tags)


def _supervisor_run(cfg: dict[str, Any]) -> None:
    """Body of process ``S``: supervise, and on any failure kill what was started and say why. Never returns."""
    report_fd = cfg["report_fd"]
    os.set_inheritable(report_fd, False)  # the program must not reach it
    try:
        _supervise(cfg, report_fd)
    except BaseException as exc:  # noqa: BLE001
        _kill_tree()
        try:
            _report(report_fd, setup_error=f"supervisor: {type(exc).__name__}: {exc}"[:1000])
        except OSError:
            pass  # the caller is gone
    os._exit(0)


def _zygote_main(sock_fd: int) -> None:
    """The fork server: one long-lived process per caller that forks a fresh supervisor ``S`` per program.

    Saves each program an interpreter start and the ``ctypes`` import (~25 ms of CPU). A request is one
    ``SOCK_SEQPACKET`` message, the marshalled config with four file descriptors attached (S's stdin, i.e. the
    control pipe; stdout; stderr; the report pipe); the answer is S's pid with a pidfd attached. Exits when the
    caller closes its end.
    """
    import socket

    sock = socket.socket(fileno=sock_fd)
    while True:
        try:  # reap finished supervisors (only here, so a pid is never reused before its pidfd exists)
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
        except OSError:
            break
        if not msg or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            if not msg:
                break
            continue
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                os.setsid()
                for target, fd in enumerate(fds[:3]):
                    os.dup2(fd, target)
                    os.close(fd)
                cfg = marshal.loads(msg)
                cfg["report_fd"] = fds[3]
                os.chdir(cfg["workdir"])
            except BaseException:  # noqa: BLE001
                os._exit(1)
            _supervisor_run(cfg)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(sock, [pid.to_bytes(4, "little")], [pidfd])
        except OSError:
            break
        finally:
            os.close(pidfd)
    os._exit(0)


def _probe_platform() -> list[str]:
    """Which isolation layers this kernel and this caller's privileges offer, tried in this throw-away process.

    Deliberately not the sandbox's set-up code: each mechanism is exercised on its own (a ``landlock`` ABI query,
    an allow-all seccomp filter, ``unshare`` and a tmpfs mount in a private mount namespace), so a set-up step that
    silently stops working cannot lower the minimum it is held to. Irreversible for this process, which then exits.
    """
    as_root = os.geteuid() == 0
    tags = ["rlimits", *ALWAYS] + (["uid"] if as_root else [])
    try:
        abi = _syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        abi = 0
    tags += [tag for need, tag in ((1, "landlock-fs"), (4, "landlock-net"), (6, "landlock-signal")) if abi >= need]
    if os.uname().machine in _SECCOMP_ARCH:
        allow = struct.pack("<HBBI", 0x06, 0, 0, _RET_ALLOW)
        buf = ctypes.create_string_buffer(allow, len(allow))
        try:
            _prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1))
            _prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER),
                   ctypes.byref(_SockFprog(1, ctypes.cast(buf, ctypes.c_void_p))))
            tags.append("seccomp-net")
        except OSError:
            pass
    mountable = as_root
    if as_root:
        for flag, tag in ((CLONE_NEWNET, "netns"), (CLONE_NEWPID, "pidns"), (CLONE_NEWIPC, "ipcns")):
            try:
                _unshare(flag)
                tags.append(tag)
            except OSError:
                pass
    else:
        try:
            _unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC)
            tags += ["userns", "netns", "pidns", "ipcns"]
            mountable = True
        except OSError:
            pass
    if mountable:
        import tempfile

        point = tempfile.mkdtemp(prefix="sandbox-probe-")
        try:
            _unshare(CLONE_NEWNS)
            _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
            _mount(b"tmpfs", point, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m")
            tags.append("tmpfs-workdir")
            _get_libc().umount2(point.encode(), ctypes.c_int(MNT_DETACH))
        except OSError:
            pass
        finally:
            os.rmdir(point)
    return tags


if __name__ == "__main__":
    if sys.argv[1] == "--probe":
        os.write(1, " ".join(_probe_platform()).encode())
        os._exit(0)
    if sys.argv[1] == "--zygote":
        _zygote_main(int(sys.argv[2]))
    cfg = marshal.loads(bytes.fromhex(sys.argv[1]))
    _supervisor_run(cfg)

# ---------------------------------------------------------------------------------------------------------------
# Part 2: the caller side (public API).
# ---------------------------------------------------------------------------------------------------------------

import atexit  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import selectors  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Iterable, Sequence  # noqa: E402

__all__ = [
    "ISOLATION_TAGS", "STATUSES", "IsolationError", "SandboxError", "SandboxResult", "find_interpreter",
    "platform_isolation", "run_many", "run_program",
]

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
                    [sys.executable, "-I", "-S", os.path.abspath(__file__), "--probe"], capture_output=True,
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
                [sys.executable, "-I", "-S", os.path.abspath(__file__), "--zygote", str(theirs.fileno())],
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
                [sys.executable, "-I", "-S", os.path.abspath(__file__),
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
    for child in _descendants(pid):
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
