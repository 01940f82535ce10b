//! AWS Signature Version 4 for the one AWS request dropgen makes outside object_store: a
//! CloudFront invalidation. Pure: the canonical request and string to sign as AWS documents
//! them (checked against botocore's signature of the same request), HMAC-SHA-256 by ring, the
//! crypto object_store already builds. object_store's own signer is not public, and
//! `aws-sigv4` would bring the AWS SDK's runtime crates for this one request.

use sha2::{Digest as _, Sha256};

/// AWS credentials, from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) key_id: String,
    pub(crate) secret: String,
    pub(crate) session_token: Option<String>,
}

/// One request to sign.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    /// `host` or `host:port`, exactly as sent.
    pub(crate) host: &'a str,
    /// The absolute path, already URI-encoded; no query.
    pub(crate) path: &'a str,
    pub(crate) content_type: &'a str,
    pub(crate) body: &'a [u8],
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub(crate) amz_date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// The headers that sign `request`: `X-Amz-Date`, `X-Amz-Security-Token` (with a session
/// token) and `Authorization`.
pub(crate) fn sign(request: &Request<'_>, credentials: &Credentials) -> Vec<(&'static str, String)> {
    let date = request.amz_date.get(..8).unwrap_or(request.amz_date);
    let mut headers = vec![
        ("content-type", request.content_type.to_owned()),
        ("host", request.host.to_owned()),
        ("x-amz-date", request.amz_date.to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    let signed_headers: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    let signed_headers = signed_headers.join(";");
    let canonical_headers: String =
        headers.iter().map(|(name, value)| format!("{name}:{}\n", value.trim())).collect();
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        request.path,
        hex(&Sha256::digest(request.body))
    );
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [date, request.region, request.service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{}", credentials.secret).into_bytes(), |key, part| {
            hmac(&key, part.as_bytes()).to_vec()
        });
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    let mut out = vec![("X-Amz-Date", request.amz_date.to_owned())];
    if let Some(token) = &credentials.session_token {
        out.push(("X-Amz-Security-Token", token.clone()));
    }
    out.push((
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.key_id
        ),
    ));
    out
}

/// HMAC-SHA-256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    crate::output::hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than a block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// The signature botocore's `SigV4Auth` gives the same request.
    #[test]
    fn signs_as_botocore_does() {
        let credentials = Credentials {
            key_id: "AKIDEXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("SESSIONTOKEN".into()),
        };
        let request = Request {
            method: "POST",
            host: "cloudfront.amazonaws.com",
            path: "/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation",
            content_type: "text/xml",
            body: b"<x/>",
            amz_date: "20261206T212353Z",
            region: "us-east-1",
            service: "cloudfront",
        };
        let headers = sign(&request, &credentials);
        assert_eq!(
            headers,
            [
                ("X-Amz-Date", "20261206T212353Z".to_owned()),
                ("X-Amz-Security-Token", "SESSIONTOKEN".to_owned()),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/cloudfront/aws4_request, \
                     SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                     Signature=0f53200c56bc66bae74e397ea0d2b4acd8c2c42c15801e737e52e725d8f88e89"
                        .to_owned()
                ),
            ]
        );
    }
}
