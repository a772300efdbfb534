"""A proxyless gRPC client for the xDS interop test.

It dials xds:///<service> with GRPC_XDS_BOOTSTRAP naming a weft-zone, serves CSDS on
--csds-port, and takes one JSON command per line on stdin, answering one JSON line each:

  {"call": "Get", "count": 100, "timeout": 5}   -> {"codes": {"OK": 97, ...}, "bodies": {"v1": 80, ...}}
  {"csds": true}                                 -> {"resources": [{"type", "name", "status", "error"}]}
"""

import argparse
import collections
import json
import sys
import time
from concurrent import futures

import grpc
from google.protobuf import json_format

# The resource types, so that CSDS answers print as JSON.
from envoy.config.cluster.v3 import cluster_pb2  # noqa: F401
from envoy.config.endpoint.v3 import endpoint_pb2  # noqa: F401
from envoy.config.listener.v3 import listener_pb2  # noqa: F401
from envoy.config.route.v3 import route_pb2  # noqa: F401
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import (  # noqa: F401
    http_connection_manager_pb2,
)
from envoy.admin.v3.config_dump_shared_pb2 import ClientResourceStatus
from envoy.service.status.v3 import csds_pb2, csds_pb2_grpc
from grpc_csds import add_csds_servicer

SERVICE = "weft.interop.Catalog"


def call(channel, method, count, timeout):
    stub = channel.unary_unary(f"/{SERVICE}/{method}")
    codes = collections.Counter()
    bodies = collections.Counter()
    errors = collections.Counter()
    started = time.monotonic()
    for _ in range(count):
        try:
            body = stub(b"", timeout=timeout)
            codes["OK"] += 1
            bodies[body.decode()] += 1
        except grpc.RpcError as error:
            codes[error.code().name] += 1
            errors[(error.details() or "")[:200]] += 1
    seconds = time.monotonic() - started
    return {"codes": dict(codes), "bodies": dict(bodies), "errors": dict(errors), "seconds": seconds}


def csds(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = csds_pb2_grpc.ClientStatusDiscoveryServiceStub(channel)
        response = stub.FetchClientStatus(csds_pb2.ClientStatusRequest(), timeout=5)
    resources = []
    for config in response.config:
        for generic in config.generic_xds_configs:
            resources.append(
                {
                    "type": generic.type_url.rsplit(".", 1)[-1],
                    "name": generic.name,
                    "version": generic.version_info,
                    "status": ClientResourceStatus.Name(generic.client_status),
                    "error": generic.error_state.details if generic.HasField("error_state") else "",
                    "config": json_format.MessageToJson(generic.xds_config)
                    if generic.HasField("xds_config")
                    else "",
                }
            )
    return {"resources": resources}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True, help="e.g. xds:///catalog")
    parser.add_argument("--csds-port", type=int, required=True)
    args = parser.parse_args()
    admin = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add_csds_servicer(admin)
    admin.add_insecure_port(f"127.0.0.1:{args.csds_port}")
    admin.start()
    channel = grpc.insecure_channel(args.target)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        if "call" in command:
            answer = call(channel, command["call"], command.get("count", 1), command.get("timeout", 5))
        elif "csds" in command:
            answer = csds(args.csds_port)
        else:
            answer = {"error": f"unknown command {line}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    sys.exit(main())
