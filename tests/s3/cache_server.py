#!/usr/bin/env python3
"""A local S3-compatible server (moto) for the object-storage cache test.

Starts moto on a free loopback port, creates the bucket given as the first argument, and
prints `READY <endpoint>`. Then reads one command a line from stdin and answers on stdout,
ending each answer with a line `END`:

    keys PREFIX        every key under PREFIX, one a line
    damage KEY         overwrite the object KEY with bytes that are not a cache entry
    quit               stop (so does the end of stdin)

Exit 77 when moto or boto3 is not installed (the caller decides whether that is a skip or
a failure).
"""
import logging
import socket
import sys

try:
    import boto3
    from moto.server import ThreadedMotoServer
except ImportError as err:  # pragma: no cover - environment dependent
    print(f"SKIPPED: {err.name} is not installed (pip install -r tests/s3/requirements.txt)", flush=True)
    sys.exit(77)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(bucket):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket=bucket)
        print(f"READY {endpoint}", flush=True)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "keys":
                pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=argument)
                for page in pages:
                    for item in page.get("Contents", []):
                        print(item["Key"])
            elif command == "damage":
                s3.put_object(Bucket=bucket, Key=argument, Body=b"not a dropgen cache entry")
            elif command == "quit":
                break
            else:
                print(f"unknown command {command!r}")
            print("END", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1])
