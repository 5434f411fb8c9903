"""The clients behind gw-nft and gw-ipt reach upstream through their laptop's masquerade."""

testinfra_hosts = ["gw-nft-client", "gw-ipt-client"]

FETCH = (
    "python3 -c \"import urllib.request as u; "
    "print(u.urlopen('http://172.30.22.4:8080/', timeout=10).read().decode())\""
)
UPSTREAM_ADDRESS = {"gw-nft-client": "172.30.22.2", "gw-ipt-client": "172.30.22.3"}


def test_upstream_sees_the_laptops_address(host):
    assert host.check_output(FETCH) == UPSTREAM_ADDRESS[host.backend.get_hostname()]
