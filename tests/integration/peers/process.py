"""process.py - stopping a peer process (nginx, rsyslogd) started in its
own process group: a polite signal first, then SIGKILL for it and anything
it forked."""

import os
import signal
import subprocess


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
