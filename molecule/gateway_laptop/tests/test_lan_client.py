"""gw-client, a board on the cluster LAN: the laptop's NAT and DNS work end to end."""

import json

testinfra_hosts = ["gw-client"]

FETCH = (
    "python3 -c \"import urllib.request as u; "
    "print(u.urlopen('http://172.30.20.3:8080/', timeout=10).read().decode())\""
)

# A DNS A query for gw-inet-echo sent straight to the laptop; prints the answers.
RESOLVE = r'''python3 - <<'PY'
import json, socket, struct
name = "gw-inet-echo"
query = struct.pack(">HHHHHH", 0x4A43, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(query, ("172.30.21.1", 53))
reply = s.recv(512)
answers = struct.unpack(">H", reply[6:8])[0]
print(json.dumps({"rcode": reply[3] & 0x0F, "answers": answers,
                  "last": socket.inet_ntoa(reply[-4:]) if answers else None}))
PY'''


def test_upstream_sees_the_laptops_address_not_the_clients(host):
    # Without the masquerade the reply to 172.30.21.10 is dropped between Docker bridges.
    assert host.check_output(FETCH) == "172.30.20.2"


def test_the_laptop_answers_dns_for_the_lan(host):
    assert json.loads(host.check_output(RESOLVE)) == {"rcode": 0, "answers": 1, "last": "172.30.20.3"}


def test_time_client_uses_the_gateway_and_reaches_it(host):
    """jetson_base's chrony on the board: the laptop is its one source, selected (^*) and reachable."""
    sources = [line for line in host.check_output("chronyc -n sources").splitlines() if line[:1] == "^"]
    assert len(sources) == 1
    assert sources[0].split()[1] == "172.30.21.1"
    # The first sync (iburst) may still be under way: the unit that holds time-sync.target at boot
    # waits for it, and fails if the gateway does not answer.
    host.run_expect([0], "systemctl start edgeai-time-sync-wait.service")
    selected = [line for line in host.check_output("chronyc -n sources").splitlines() if line.startswith("^*")]
    assert selected and selected[0].split()[1] == "172.30.21.1"
    tracking = host.check_output("chronyc -n tracking")
    assert "(172.30.21.1)" in tracking.splitlines()[0]
    assert "Leap status     : Normal" in tracking


def test_time_client_never_sets_this_machines_clock(host):
    assert " -x" in host.check_output("ps -o args= -C chronyd")
    assert host.service("edgeai-time-sync-wait.service").is_enabled
