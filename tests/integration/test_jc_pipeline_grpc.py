"""Workload III's chain for real: stage processes on 127.0.0.1 talking gRPC (jc_pipeline).

- the chain's output is byte-identical to the monolith's, at every depth;
- a client generated from the reference interface (tests/fixtures/pipeline/conv.proto), with
  gRPC's default options, pulls from every server stage, also images over 4 MiB;
- a stage that dies or stalls mid-stream ends the chain with an error naming it, within the
  stages' bounded timeouts.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from jc_pipeline_generated import generated_code

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import monolith, ops, sink, stage, wire  # noqa: E402
from jc_pipeline.local import LocalChain  # noqa: E402

SEED_PROTO = ROOT / "tests" / "fixtures" / "pipeline" / "conv.proto"
SEED_CLIENT = ROOT / "tests" / "integration" / "files" / "seed_client.py"
# 1100 x 1000 float32 = 4.4 MB: more than gRPC's default 4 MiB receive limit.
LARGE_KEY = "1100x1000,seed=7"
LARGE_BYTES = 1100 * 1000 * 4

pytestmark = pytest.mark.timeout(180)


generated = pytest.fixture(scope="module", autouse=True, name="generated")(generated_code)


@pytest.fixture(scope="module")
def seed_stubs(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed-generated")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(SEED_PROTO.parent),
                    "--python_out=" + str(out), "--grpc_python_out=" + str(out), str(SEED_PROTO)], check=True)
    return out


@pytest.fixture(scope="module")
def chain4():
    with LocalChain(4) as chain:
        yield chain


def seed_pull(stubs, address, key, datacount):
    proc = subprocess.run([sys.executable, str(SEED_CLIENT), str(stubs), address, key, str(datacount)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=150,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_chain_output_is_byte_identical_to_the_monolith(depth):
    key = "97x61,seed=5"  # odd sizes: maxpool drops the last row and column
    expected = monolith.run(key, 6, keep=True)
    with LocalChain(depth) as chain:
        got = sink.run(chain.last, key, 6, keep=True)
    assert [image.tobytes() for image in got["outputs"]] == [image.tobytes() for image in expected["outputs"]]


def test_chain_reports_every_stage_in_order(chain4):
    report = sink.run(chain4.last, "64x48", 5)
    assert [(s["stage"], s["images"]) for s in report["stages"]] == [
        ("producer", 5), ("conv", 5), ("relu", 5), ("pool", 5)]
    # Every stage measured its process CPU per image (compute + its gRPC threads' transfers),
    # so the chain has a CPU-based CCR and bound; the transfers cost more than nothing.
    assert all(s["median_cpu"] > 0 and s["median_comm_cpu"] >= 0 for s in report["stages"])
    assert report["ccr_cpu"] > 0 and report["bound_cpu_fps"] > 0
    assert report["busiest_cpu_stage"] in ("producer", "conv", "relu", "pool")


@pytest.mark.parametrize("index", range(4), ids=["producer", "conv", "relu", "pool"])
def test_seed_interface_client_pulls_from_every_stage(chain4, seed_stubs, index):
    got = seed_pull(seed_stubs, chain4.addresses[index], "64x48", 3)
    width, height = (32, 24) if index == 3 else (64, 48)
    assert got["images"] == {str(i): {"bytes": width * height * 4, "total": width * height * 4, "width": width,
                                      "height": height, "chunks": 1} for i in range(3)}


@pytest.mark.parametrize("index", range(3), ids=["producer", "conv", "relu"])
def test_seed_client_with_default_limits_gets_images_over_4_mib(chain4, seed_stubs, index):
    got = seed_pull(seed_stubs, chain4.addresses[index], LARGE_KEY, 2)
    assert "status" not in got
    assert [got["images"][str(i)]["bytes"] for i in range(2)] == [LARGE_BYTES, LARGE_BYTES]
    assert got["largest"] <= wire.DEFAULT_CHUNK_BYTES + wire.HEADER.size


def test_images_over_4_mib_cross_every_hop_unchanged(chain4):
    expected = monolith.run(LARGE_KEY, 2)
    assert sink.run(chain4.last, LARGE_KEY, 2)["sha256"] == expected["sha256"]


def test_jc_pipeline_hops_ask_for_whole_images_and_seed_clients_still_get_chunks(seed_stubs):
    # By default each hop asks its upstream for whole images (one message per 4.4 MB image); a
    # seed client with default options still gets 1 MiB chunks from the same stages.
    expected = monolith.run(LARGE_KEY, 2)
    with LocalChain(3) as chain:
        assert sink.run(chain.last, LARGE_KEY, 2)["sha256"] == expected["sha256"]
        got = seed_pull(seed_stubs, chain.addresses[1], LARGE_KEY, 1)
        pb2, _ = wire.modules()
        channel = grpc.insecure_channel(chain.addresses[1], options=stage.CHANNEL_OPTIONS)
        get_data = channel.unary_stream(stage.METHOD, request_serializer=pb2.DataRequest.SerializeToString,
                                        response_deserializer=None)
        asked = list(get_data(pb2.DataRequest(key=LARGE_KEY, datacount=2),
                              metadata=((stage.CHUNK_METADATA_KEY, str(8 << 20)),)))
        channel.close()
    assert got["largest"] <= wire.DEFAULT_CHUNK_BYTES + wire.HEADER.size
    assert got["images"]["0"]["chunks"] == 5
    assert len(asked) == 2 and all(len(m) > LARGE_BYTES for m in asked)


def test_hops_that_ask_for_no_chunk_size_get_1_mib_chunks_and_the_same_bytes():
    expected = monolith.run(LARGE_KEY, 2)
    with LocalChain(3, pull_chunk_bytes=0) as chain:
        assert sink.run(chain.last, LARGE_KEY, 2, chunk_bytes=0)["sha256"] == expected["sha256"]


def test_unchunked_images_over_4_mib_exceed_the_default_limit(seed_stubs):
    # Why the stages chunk: one 4.4 MB message is refused by a default client.
    with LocalChain(2, chunk_bytes=8 << 20) as chain:
        got = seed_pull(seed_stubs, chain.addresses[0], LARGE_KEY, 1)
    assert got["status"] == "RESOURCE_EXHAUSTED"


def test_bad_key_is_refused_with_a_message(chain4):
    with pytest.raises(stage.StageError) as err:
        next(stage.Upstream(chain4.last, sink.Request("big", 1), 10, 10).images())
    assert err.value.code.name == "INVALID_ARGUMENT"
    assert "key 'big' is not" in str(err.value)


def pull_until_failure(address, key, events, idle_timeout=30.0):
    """Pull with a 4-deep chain; ``events[n]`` runs after image n. Returns (images, error, seconds)."""
    images = 0
    started = time.monotonic()
    try:
        for _ in stage.Upstream(address, sink.Request(key, 100000), 10, idle_timeout).images():
            images += 1
            if images in events:
                started = time.monotonic()
                events[images]()
    except stage.StageError as exc:
        return images, exc, time.monotonic() - started
    return images, None, time.monotonic() - started


def test_a_stage_killed_mid_stream_fails_the_chain_clearly():
    with LocalChain(4, idle_timeout=20) as chain:
        conv = chain.processes[1]
        images, error, seconds = pull_until_failure(chain.last, "256x256", {3: lambda: os.kill(conv.pid, signal.SIGKILL)})
    assert error is not None and images >= 3
    message = str(error)
    # Every hop below the dead stage is named, the dead one by its address.
    assert "stage pool" in message and "stage relu" in message
    assert "upstream %s failed" % chain.addresses[1] in message
    assert seconds < 15


def test_a_stalled_stage_is_cut_off_by_the_idle_timeout():
    with LocalChain(4, idle_timeout=2) as chain:
        conv = chain.processes[1]
        images, error, seconds = pull_until_failure(chain.last, "256x256", {3: lambda: os.kill(conv.pid, signal.SIGSTOP)})
    assert error is not None
    # relu, right below the stalled conv, times out first (2 s * (1 + 2/2)) and says so.
    assert "stage relu: upstream %s sent nothing for 4 s" % chain.addresses[1] in str(error)
    assert seconds < 20


def test_cli_pull_exits_non_zero_with_the_chain_error():
    with LocalChain(2, connect_timeout=2) as chain:
        chain.processes[0].kill()
        chain.processes[0].wait()
        env = dict(os.environ, PYTHONPATH=str(ROOT / "roles" / "pipeline_workload" / "files"))
        proc = subprocess.run([sys.executable, "-m", "jc_pipeline", "pull", "--address", chain.last,
                               "--key", "32x32", "--datacount", "2", "--connect-timeout", "5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                              timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("jc_pipeline: pipeline failed: upstream %s failed after 0 images: UNAVAILABLE: "
                                  "stage conv-relu-pool: upstream %s not reachable within 2 s"
                                  % (chain.addresses[1], chain.addresses[0]))


def test_a_stage_whose_port_an_outgoing_connection_holds_exits_2_naming_it():
    # An ordinary outgoing connection's local port (picked by the kernel from the ephemeral range)
    # is what the Docker runner's stages met on a busy host: gRPC cannot bind it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held = socket.create_connection(listener.getsockname())
    try:
        port = held.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT / "roles" / "pipeline_workload" / "files"))
        proc = subprocess.run([sys.executable, "-m", "jc_pipeline", "stage", "--depth", "2", "--index", "0",
                               "--listen", "0.0.0.0:%d" % port],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                              timeout=60, check=False)
    finally:
        held.close()
        listener.close()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("jc_pipeline: cannot listen on 0.0.0.0:%d: the address is in use or not this host's" % port
            in proc.stderr)
    assert "ip_local_port_range" in proc.stderr


def test_a_slow_consumer_is_not_taken_for_a_stalled_upstream():
    # Stage 1 waits 1.5 s for upstream at most; the sink holds it up for 4 s after the first
    # image, long enough for 48 MB of output to fill gRPC's flow-control windows, so stage 1
    # blocks in its send and reads nothing from upstream meanwhile.
    with LocalChain(2, idle_timeout=1) as chain:
        received = []
        for _, _, image, _, _ in stage.Upstream(chain.last, sink.Request("2048x2048", 12), 10, 30).images():
            received.append(image.shape)
            if len(received) == 1:
                time.sleep(4)
    assert received == [(1024, 1024)] * 12
