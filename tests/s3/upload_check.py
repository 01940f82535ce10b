#!/usr/bin/env python3
"""A real consumer of dropgen's upload manifest.

Uploads <out>/public to a local S3-compatible server (moto) using only what
<out>/manifest.json says (order, Content-Type, Cache-Control, Content-Encoding,
Content-MD5, cache tags), then reads every object back and compares bytes and
headers. Also validates manifest.json and changes.json against the JSON Schemas
in docs/. Exit 0 on success, 1 on any mismatch, 77 when moto/boto3/jsonschema
are not installed (the caller decides whether that is a skip or a failure).
"""
import hashlib
import json
import logging
import re
import socket
import sys
from pathlib import Path

try:
    import boto3
    import jsonschema
    from moto.server import ThreadedMotoServer
except ImportError as err:  # pragma: no cover - environment dependent
    print(f"SKIPPED: {err.name} is not installed (pip install 'moto[server]' boto3 jsonschema)")
    sys.exit(77)

ROOT = Path(__file__).resolve().parents[2]
# Root-relative references to assets in pages: src="/_img/…", href="/_assets/…".
REFERENCE = re.compile(r'(?:src|href)="(/_(?:img|assets)/[^"]+)"')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(out):
    manifest = json.loads((out / "manifest.json").read_text())
    changes = json.loads((out / "changes.json").read_text())
    for name, document in [("upload-manifest", manifest), ("upload-changes", changes)]:
        schema = json.loads((ROOT / "docs" / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(document)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    failures = []
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="drops")
        public = out / "public"
        uploaded = set()
        for path in manifest["upload_order"]:
            entry = manifest["files"][path]
            body = (public / path).read_bytes()
            if entry["content_type"].startswith("text/html") and "content_encoding" not in entry:
                # A page may only go up once everything it refers to is there.
                for ref in REFERENCE.findall(body.decode("utf-8")):
                    if ref.lstrip("/") not in uploaded:
                        failures.append(f"{path} uploaded before {ref}")
            extra = {
                "ContentType": entry["content_type"],
                "CacheControl": entry["cache_control"],
                "ContentMD5": entry["content_md5"],
                "Metadata": {"surrogate-key": " ".join(entry["cache_tags"])},
            }
            if "content_encoding" in entry:
                extra["ContentEncoding"] = entry["content_encoding"]
            if "cdn_cache_control" in entry:
                extra["Metadata"]["cdn-cache-control"] = entry["cdn_cache_control"]
            s3.put_object(Bucket="drops", Key=path, Body=body, **extra)
            uploaded.add(path)

        listed = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="drops"):
            listed.update(item["Key"] for item in page.get("Contents", []))
        if listed != set(manifest["files"]):
            failures.append(f"bucket holds {sorted(listed ^ set(manifest['files']))} beyond or short of the manifest")

        for path, entry in manifest["files"].items():
            obj = s3.get_object(Bucket="drops", Key=path)
            body = obj["Body"].read()
            checks = {
                "size": (len(body), entry["size"]),
                "sha256": (hashlib.sha256(body).hexdigest(), entry["sha256"]),
                "content type": (obj["ContentType"], entry["content_type"]),
                "cache control": (obj.get("CacheControl"), entry["cache_control"]),
                "content encoding": (obj.get("ContentEncoding"), entry.get("content_encoding")),
                "etag": (obj["ETag"].strip('"'), hashlib.md5(body).hexdigest()),
                "tags": (obj["Metadata"].get("surrogate-key"), " ".join(entry["cache_tags"])),
            }
            for what, (got, wanted) in checks.items():
                if got != wanted:
                    failures.append(f"{path}: {what} is {got!r}, manifest says {wanted!r}")
    finally:
        server.stop()

    for failure in failures:
        print(f"FAIL {failure}")
    print(f"uploaded and read back {len(manifest['files'])} files: {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
