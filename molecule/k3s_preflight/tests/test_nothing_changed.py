"""After the refusals and skips, no node has any trace of k3s."""

import pytest

TRACES = [
    "/usr/local/bin/k3s",
    "/usr/local/bin/kubectl",
    "/etc/rancher",
    "/var/lib/rancher",
    "/etc/systemd/system/k3s.service",
    "/etc/systemd/system/k3s.service.env",
    "/etc/systemd/system/k3s-agent.service",
    "/etc/systemd/system/k3s-agent.service.env",
]


@pytest.mark.parametrize("path", TRACES)
def test_no_k3s_file(host, path):
    assert not host.file(path).exists
