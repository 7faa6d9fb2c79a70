"""syslog_common.py - what test_syslog.py and test_qradar.py share.

  pki, rsyslog        module-scoped fixtures: the openssl test PKI and one
                      rsyslogd (peers/rsyslog.py) for the module; import
                      them into a test module to use them
  wait_frames(cap, split, n)   the frames a Capture received, once n are complete
  assert_refused(tmp_path, type, conf, message)   --check fails, naming message
"""

import json
import os

import pytest

from harness import run_cli, wait_until
from peers.rsyslog import Rsyslog, make_syslog_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_syslog_pki(tmp_path_factory.mktemp("syslog-pki"))


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory, pki):
    rs = Rsyslog(tmp_path_factory.mktemp("rsyslog"), pki).start()
    yield rs
    rs.stop()


def wait_frames(cap, split, n, timeout=10):
    def complete():
        try:
            frames = split(cap.bytes())
        except ValueError:  # a frame still being written
            return None
        return frames if len(frames) >= n else None

    frames = wait_until(complete, timeout, message="frames never complete")
    assert len(frames) == n, "%d frames, expected %d" % (len(frames), n)
    return frames


def assert_refused(tmp_path, type_name, conf, message):
    c = {"address": "127.0.0.1"}
    c.update(conf)
    path = os.path.join(str(tmp_path), "bad.yaml")
    with open(path, "w") as f:
        f.write(json.dumps({"integrations": [{"name": "x", "type": type_name, "configuration": c}]}))
    r = run_cli(["--check", "-c", path])
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
