"""The sandbox's supervisor side: the script run as ``python -I -S supervisor.py <config>`` (and as the fork server,
``--zygote``, and the platform probe, ``--probe``).

It sets up namespaces, limits, Landlock and seccomp, runs the program and cleans up (the process tree and the
layers are described in :mod:`llm.sandbox.api`, the caller's side). It imports only cheap built-in modules and no
module of this package: every program pays its interpreter start-up (``dataclasses`` alone costs ~25 ms).
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


def descendants(root: int) -> list[int]:
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
        for pid in descendants(os.getpid()):
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
