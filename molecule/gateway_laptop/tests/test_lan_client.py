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
