"""Fixtures shared by the integration tests.

  gateway_factory         function scope: make(integrations, conf=..., ...)
                          starts a Gateway in a fresh temp dir; at teardown
                          every gateway is stopped with SIGTERM and the test
                          fails if one exited non-zero or a sanitizer spoke.
  module_gateway_factory  the same, for gateways shared by a module.
  receiver_factory        WebhookReceiver instances, stopped at teardown.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from harness import Gateway, GatewayError  # noqa: E402
from receivers.webhook import WebhookReceiver  # noqa: E402


class _Factory:
    def __init__(self, tmp_factory, prefix):
        self.tmp_factory = tmp_factory
        self.prefix = prefix
        self.gateways = []

    def make(self, integrations=(), **kw):
        gw = Gateway(self.tmp_factory.mktemp(self.prefix), integrations=integrations, **kw)
        self.gateways.append(gw)
        gw.start()
        return gw

    def close(self):
        problems = []
        for gw in self.gateways:
            try:
                gw.stop(check=True)
            except GatewayError as e:
                problems.append(str(e))
            finally:
                gw.kill()
        return problems


# The gateway factories depend on the receiver factories so receivers are
# stopped after the gateways: a gateway draining its queues at SIGTERM still
# finds its peers.
@pytest.fixture
def gateway_factory(tmp_path_factory, receiver_factory):
    f = _Factory(tmp_path_factory, "gw")
    yield f.make
    problems = f.close()
    if problems:
        pytest.fail("gateway shutdown check failed:\n" + "\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_gateway_factory(tmp_path_factory, module_receiver_factory):
    f = _Factory(tmp_path_factory, "mgw")
    yield f.make
    problems = f.close()
    if problems:
        pytest.fail("gateway shutdown check failed:\n" + "\n\n".join(problems), pytrace=False)


class _Receivers:
    def __init__(self):
        self.items = []

    def make(self, **kw):
        r = WebhookReceiver(**kw)
        r.start()
        self.items.append(r)
        return r

    def close(self):
        for r in self.items:
            r.stop()


@pytest.fixture
def receiver_factory():
    rs = _Receivers()
    yield rs.make
    rs.close()


@pytest.fixture(scope="module")
def module_receiver_factory():
    rs = _Receivers()
    yield rs.make
    rs.close()
