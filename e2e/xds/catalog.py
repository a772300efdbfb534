"""A catalog server for the xDS interop test: plain gRPC (no xDS), fronted by weft-dp.

Methods of weft.interop.Catalog (raw bytes, no generated code):
  Get    answers its version
  Flaky  fails every other call with UNAVAILABLE
  Slow   answers after three seconds
"""

import argparse
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "weft.interop.Catalog"


class Catalog:
    def __init__(self, version):
        self.version = version.encode()
        self.lock = threading.Lock()
        self.flaky_calls = 0

    def get(self, request, context):
        return self.version

    def flaky(self, request, context):
        with self.lock:
            self.flaky_calls += 1
            fail = self.flaky_calls % 2 == 1
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "flaky: this call fails")
        return self.version

    def slow(self, request, context):
        time.sleep(3.0)
        return self.version


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True, help="address:port")
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    catalog = Catalog(args.version)
    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(catalog.get),
        "Flaky": grpc.unary_unary_rpc_method_handler(catalog.flaky),
        "Slow": grpc.unary_unary_rpc_method_handler(catalog.slow),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(args.listen)
    server.start()
    print(f"catalog {args.version} listening on {args.listen}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
