#!/usr/bin/env python3
"""A local S3-compatible server (moto) for the `dropgen deploy` tests.

Starts moto on a free loopback port with authentication enforced (an access key id that
does not exist is refused), creates an IAM user allowed everything and its access key, creates the bucket given as the first argument with
versioning on (so every PUT is counted as a version), and prints

    READY <endpoint> <access key id> <secret access key> <CloudFront distribution id>

Then reads one command a line from stdin and answers on stdout, ending each answer with a
line `END`:

    objects PREFIX     one JSON object a line per object under PREFIX: key, size,
                       sha256 and md5 (hex) of the bytes, etag, content_type,
                       cache_control, content_encoding, metadata
    versions PREFIX    one JSON object a line per key under PREFIX: key, puts (versions
                       written), deletes (delete markers)
    invalidations      one JSON object a line per invalidation of the distribution:
                       caller_reference, paths (the distribution's id is READY's last word)
    quit               stop (so does the end of stdin)

Exit 77 when moto or boto3 is not installed (the caller decides whether that is a skip or
a failure).
"""
import hashlib
import json
import logging
import socket
import sys
import urllib.request

try:
    import boto3
    from moto.cloudfront.models import cloudfront_backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.access_control import S3IAMRequest
    from moto.server import ThreadedMotoServer
except ImportError as err:  # pragma: no cover - environment dependent
    print(f"SKIPPED: {err.name} is not installed (pip install -r tests/s3/requirements.txt)", flush=True)
    sys.exit(77)


# moto 5.2 computes S3 signatures over a re-encoded query, so a correctly signed
# `list-type=2&prefix=site%2F` fails its check. Keep the rest of its authentication: the key id
# must exist and its policies must allow the action.
S3IAMRequest.check_signature = lambda self: None


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
        setup = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
                     aws_secret_access_key="setup")
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="deployer")
        iam.put_user_policy(
            UserName="deployer",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # A CloudFront distribution in front of the bucket, for `--purge cloudfront`.
        cloudfront = boto3.client("cloudfront", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        distribution = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "dropgen-tests",
            "Comment": "",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "bucket", "DomainName": f"{bucket}.s3.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            }]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "bucket", "ViewerProtocolPolicy": "allow-all",
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "MinTTL": 0,
            },
        })["Distribution"]["Id"]
        # From here on, every request must be signed with a key that exists.
        urllib.request.urlopen(urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        ))
        print(f"READY {endpoint} {key['AccessKeyId']} {key['SecretAccessKey']} {distribution}", flush=True)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "objects":
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=argument):
                    for item in page.get("Contents", []):
                        obj = s3.get_object(Bucket=bucket, Key=item["Key"])
                        body = obj["Body"].read()
                        print(json.dumps({
                            "key": item["Key"],
                            "size": len(body),
                            "sha256": hashlib.sha256(body).hexdigest(),
                            "md5": hashlib.md5(body).hexdigest(),
                            "etag": obj["ETag"].strip('"'),
                            "content_type": obj.get("ContentType"),
                            "cache_control": obj.get("CacheControl"),
                            "content_encoding": obj.get("ContentEncoding"),
                            "metadata": obj.get("Metadata", {}),
                        }, sort_keys=True))
            elif command == "versions":
                counts = {}
                for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=argument):
                    for item in page.get("Versions", []):
                        counts.setdefault(item["Key"], [0, 0])[0] += 1
                    for item in page.get("DeleteMarkers", []):
                        counts.setdefault(item["Key"], [0, 0])[1] += 1
                for name, (puts, deletes) in sorted(counts.items()):
                    print(json.dumps({"key": name, "puts": puts, "deletes": deletes}))
            elif command == "invalidations":
                # moto 5.2's ListInvalidations answers an error; its backend holds them.
                backend = cloudfront_backends[DEFAULT_ACCOUNT_ID]["aws"]
                for invalidation in backend.invalidations.get(distribution, []):
                    paths = invalidation.paths if isinstance(invalidation.paths, list) else [invalidation.paths]
                    print(json.dumps({"caller_reference": invalidation.caller_ref, "paths": paths}))
            elif command == "quit":
                break
            else:
                print(f"unknown command {command!r}")
            print("END", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1])
