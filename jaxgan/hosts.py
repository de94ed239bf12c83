"""What the hosts of a run decide together: the step to stop at, and that a lost host ends the job.

Stopping (`StopRequests`): the first SIGTERM or Ctrl-C asks the run to stop; the second stops at once
(the last good checkpoint is kept). On one host, the run stops after the step it is on. On several, a
request on any of them (one, some, or all, at any moments) is announced in the coordination service's
key-value store; each host's heartbeat thread sees it within a beat and proposes the last step that host
may reach (its step plus one dispatch); every host runs to the largest proposal, and there all save one
checkpoint together and exit as one host would. The steady state exchanges nothing per step: the main
loop reads a local flag.

Losing a host (`Heartbeats`): every host writes a counter into the store each beat and watches the
others'. A host whose counter stops for ``config.host_timeout_s``, or a coordinator (host 0) that stops
answering, ends the job on every survivor within that time: one line naming the lost host and the last
good checkpoint, exit code `LOST_HOST_EXIT`, the details in ``<workdir>/host_<i>.log``, where native
libraries' messages of a multi-host run go all along (`native_messages_to`), so a failing collective's
log lines and thread dumps never reach the terminal. A checkpoint a lost host leaves half-written stays
an orbax temporary folder, which is never taken as the latest.
"""
from __future__ import annotations

import io
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

#: the exit code of a survivor of a lost host (EX_TEMPFAIL: a restart loop can tell it from a real error)
LOST_HOST_EXIT = 75
#: any of these means a multi-process launch that `jax.distributed.initialize()` can read
CLUSTER_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS", "SLURM_STEP_NUM_TASKS",
                     "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")
_INDEX_VARIABLES = ("JAX_PROCESS_ID", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "TPU_WORKER_ID")
_SUPERVISED = "JAXGAN_SUPERVISED"
_STOP, _PROPOSED, _ALIVE, _DONE = "jaxgan/stop", "jaxgan/proposed/", "jaxgan/alive/", "jaxgan/done/"
log = logging.getLogger(__name__)


class Peers:
    """This process's view of a multi-process run: the coordination service's client, its index and count."""

    def __init__(self, client: Any, index: int, count: int, timeout_s: float, workdir: Path,
                 last_checkpoint: Callable[[], int | None]):
        self.client, self.index, self.count, self.timeout_s = client, index, count, timeout_s
        self.workdir, self.last_checkpoint = workdir, last_checkpoint

    @classmethod
    def of_this_run(cls, timeout_s: float, workdir: Path, last_checkpoint: Callable[[], int | None]
                    ) -> "Peers | None":
        """The run's peers where it has several processes (joined through `jax.distributed`), else None."""
        import jax

        if jax.process_count() == 1:
            return None
        from jax._src import distributed     # the client JAX's own multihost_utils use

        return cls(distributed.global_state.client, jax.process_index(), jax.process_count(), timeout_s, workdir,
                   last_checkpoint)

    def lost(self, what: str, details: str = "") -> None:
        """Ends this process at once: one line naming ``what`` was lost and the last good checkpoint on the
        terminal, ``details`` in this host's log."""
        sys.stderr.write(lost_line(what, self.last_checkpoint(), self.workdir / f"host_{self.index}.log", details))
        sys.stderr.flush()
        os._exit(LOST_HOST_EXIT)         # no atexit: JAX's shutdown would wait for the lost host


class StopRequests:
    """Stop requests (see the module doc): `stop_step` says where this host stops."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], None], peers: Peers | None = None, ahead: int = 1):
        self.requested = False                  # this host was asked
        self._say, self._peers, self._ahead = say, peers, ahead
        self._noticed = threading.Event()       # some host was asked (several hosts)
        self._proposal: int | None = None
        self._agreed: int | None = None
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._say("stopping: finishing this step and saving a checkpoint (Ctrl-C again to stop at once)")
        if self._peers is not None:
            try:
                self._peers.client.key_value_set(_STOP, str(self._peers.index))
            except Exception:  # noqa: BLE001  another host announced it first
                pass

    @property
    def noticed(self) -> bool:
        """Whether this host knows that some host was asked to stop (several hosts)."""
        return self._noticed.is_set()

    def notice(self, step: int) -> None:
        """Called by this host's heartbeat thread when it first sees a stop announced: proposes the last
        step this host may reach, ``step`` (its step now) plus one dispatch."""
        self._proposal = step + self._ahead
        self._peers.client.key_value_set(f"{_PROPOSED}{self._peers.index}", str(self._proposal))
        self._noticed.set()

    def stop_step(self, step: int) -> int | None:
        """The step this host stops after (None: no stop asked), given the step it has reached: one host
        stops where it is; several run to the agreed step, waiting for every proposal once this host
        reaches its own."""
        if self._peers is None:
            return step if self.requested else None
        if not self._noticed.is_set():
            return None
        if self._agreed is None and step >= self._proposal:
            self._agreed = self._agree()
        return self._agreed if self._agreed is not None else self._proposal

    def _agree(self) -> int:
        peers, proposals = self._peers, []
        for index in range(peers.count):
            try:
                value = peers.client.blocking_key_value_get(f"{_PROPOSED}{index}", int(peers.timeout_s * 1000))
            except Exception as e:  # noqa: BLE001  the coordination service's timeout or a lost coordinator
                peers.lost(f"host {index}, which never proposed a step to stop at", repr(e))
            proposals.append(int(value))
        return max(proposals)

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


class Heartbeats:
    """Each host's beat in the key-value store, the watch on its peers' beats, and the stop announcement
    (see the module doc); two daemon threads."""

    def __init__(self, peers: Peers, step: Callable[[], int]):
        self.peers, self.step = peers, step
        self.stop: StopRequests | None = None            # the training loop's, once it runs
        self.interval = min(2.0, max(0.2, peers.timeout_s / 10))
        now = time.monotonic()
        self._seen: dict[int, str | None] = {i: None for i in range(peers.count) if i != peers.index}
        self._changed = dict.fromkeys(self._seen, now)
        self._done: set[int] = set()
        self._answered, self._error = now, ""
        self._closed = threading.Event()
        for target in (self._beat, self._watch):
            threading.Thread(target=target, daemon=True, name=f"jaxgan-{target.__name__[1:]}").start()

    def _beat(self) -> None:
        client, count = self.peers.client, 0
        while not self._closed.is_set():
            count += 1
            try:
                client.key_value_set(f"{_ALIVE}{self.peers.index}", str(count), allow_overwrite=True)
                entries = dict(client.key_value_dir_get("jaxgan/"))
            except Exception as e:  # noqa: BLE001  the coordinator is gone (or slow): the watch decides
                self._error = repr(e)
                self._closed.wait(self.interval)
                continue
            now = self._answered = time.monotonic()
            for index in self._seen:
                value = entries.get(f"{_ALIVE}{index}")
                if value != self._seen[index]:
                    self._seen[index], self._changed[index] = value, now
                if f"{_DONE}{index}" in entries:
                    self._done.add(index)
            if _STOP in entries and self.stop is not None and not self.stop.noticed:
                self.stop.notice(self.step())
            self._closed.wait(self.interval)

    def _watch(self) -> None:
        timeout = self.peers.timeout_s
        while not self._closed.wait(self.interval):
            now = time.monotonic()
            if now - self._answered > timeout:
                self.peers.lost(f"host 0 (the coordinator): it has not answered for {timeout:.0f} s", self._error)
            for index, changed in self._changed.items():
                if index not in self._done and now - changed > timeout:
                    self.peers.lost(f"host {index} of {self.peers.count}: no heartbeat for {timeout:.0f} s")

    def close(self) -> None:
        """This host is done (its peers stop watching it) and stops beating."""
        try:
            self.peers.client.key_value_set(f"{_DONE}{self.peers.index}", "1")
        except Exception:  # noqa: BLE001
            pass
        self._closed.set()

    def verdict(self, error: BaseException) -> None:
        """After a failed collective: waits for the watch to name the lost host (it ends the process), else
        ends it naming the failure."""
        time.sleep(self.peers.timeout_s + 2 * self.interval)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        self.peers.lost(f"a collective with the other hosts ({first})", repr(error))


def native_messages_to(path: Path) -> None:
    """Native libraries' messages (file descriptor 2: XLA, gloo, TensorFlow, their fatal-error thread
    dumps) go to ``path`` from now on; Python's own (logging, the progress bar, error lines) still reach
    the terminal."""
    sys.stderr.flush()
    terminal = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    old = sys.stderr
    sys.stderr = io.TextIOWrapper(os.fdopen(terminal, "wb", buffering=0), write_through=True,
                                  encoding=getattr(old, "encoding", None) or "utf-8", errors="backslashreplace")
    for handler in logging.root.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is old:
            handler.setStream(sys.stderr)


def lost_line(what: str, step: int | None, host_log: Path, details: str = "") -> str:
    """The line a survivor prints (``details`` go to ``host_log`` with it)."""
    kept = f"the last good checkpoint is step {step}" if step is not None else "no checkpoint was written"
    line = (f"error: lost {what}; stopping this host ({kept}); restart every host with the same command to "
            f"resume (details in {host_log})")
    try:
        with open(host_log, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n{details}\n")
    except OSError:
        pass
    return line + "\n"


def several_hosts_launch() -> bool:
    """Whether the environment launches this process as one of several (`CLUSTER_VARIABLES`)."""
    if os.environ.get("SLURM_STEP_NUM_TASKS") == "1":
        return False
    return any(os.environ.get(v) for v in CLUSTER_VARIABLES)


def supervise(argv: list[str], workdir: Path, last_checkpoint: Callable[[], int | None]) -> int:
    """Runs ``argv`` (this command) as a child and returns its exit code. JAX ends a process whose
    coordinator is lost with a native abort, before any Python can run; the supervisor then says so in one
    line (`LOST_HOST_EXIT`). Signals sent to the supervisor go to the child once (it runs in a session of
    its own, so a terminal's Ctrl-C is not delivered twice), and the child dies with the supervisor."""
    import ctypes
    import subprocess

    def die_with_parent() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG (Linux)
        except (OSError, AttributeError):
            pass

    child = subprocess.Popen([sys.executable, *argv], env={**os.environ, _SUPERVISED: "1"}, start_new_session=True,
                             preexec_fn=die_with_parent)
    for s in StopRequests.SIGNALS:
        signal.signal(s, lambda signum, frame: child.send_signal(signum))
    code = child.wait()
    if code >= 0:
        return code
    index = next((os.environ[v] for v in _INDEX_VARIABLES if os.environ.get(v)), "0")
    host_log = workdir / f"host_{index}.log"
    try:
        tail = host_log.read_text(errors="replace")[-20000:]
    except OSError:
        tail = ""
    what = ("host 0 (the coordinator): it stopped answering" if "coordination service" in tail
            else f"this host's training process (killed by signal {-code})")
    sys.stderr.write(lost_line(what, last_checkpoint(), host_log))
    return LOST_HOST_EXIT


def supervised() -> bool:
    """Whether this process is the child `supervise` runs."""
    return os.environ.get(_SUPERVISED) == "1"
