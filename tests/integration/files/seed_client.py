"""A client of the reference interface that knows nothing of jc_pipeline.

Usage: seed_client.py GENERATED_DIR ADDRESS KEY DATACOUNT
Stubs come from tests/fixtures/pipeline/conv.proto (generated into GENERATED_DIR); the channel
has gRPC's default options (4 MiB receive limit). Prints one JSON line: messages, largest
message, bytes, and per image (from the documented 40-byte header) its index and byte count;
or the gRPC status when the call fails.
"""

import json
import struct
import sys

sys.path.insert(0, sys.argv[1])

import conv_pb2  # noqa: E402
import conv_pb2_grpc  # noqa: E402
import grpc  # noqa: E402

HEADER = struct.Struct("<4sIIIIIdQ")


def main(address, key, datacount):
    result = {"messages": 0, "largest": 0, "bytes": 0, "images": {}}
    with grpc.insecure_channel(address) as channel:
        stub = conv_pb2_grpc.GetDataServiceStub(channel)
        try:
            for reply in stub.GetData(conv_pb2.DataRequest(key=key, datacount=datacount), timeout=120):
                magic, index, chunk, chunks, width, height, _, total = HEADER.unpack_from(reply.data)
                result["messages"] += 1
                result["largest"] = max(result["largest"], len(reply.data))
                body = len(reply.data) - HEADER.size
                result["bytes"] += body
                image = result["images"].setdefault(str(index), {"bytes": 0, "total": total, "width": width,
                                                                 "height": height, "chunks": chunks})
                image["bytes"] += body
        except grpc.RpcError as exc:
            result["status"] = exc.code().name
            result["details"] = exc.details()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
