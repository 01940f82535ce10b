//! Purchase tokens: compact JWS (RFC 7515) signed with Ed25519 (`alg: EdDSA`, RFC 8037), and
//! the JWKS that lets a shop verify them without calling back.
//!
//! The signing keys are PKCS#8 PEM files (`openssl genpkey -algorithm ed25519`, or
//! `dropgen inventory keygen`). The first key signs; every key is published, so tokens signed
//! before a rotation still verify until they expire. A key's `kid` is its RFC 7638 thumbprint,
//! so it needs no name and two services with the same key agree on it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::machine::HoldView;

/// The claims of a purchase token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// Unique per token: the hold's id (a hold has one token, consumed by its confirm).
    pub(crate) jti: String,
    pub(crate) hold: String,
    pub(crate) drop: String,
    pub(crate) sku: String,
    pub(crate) qty: u32,
    /// Issued and expiry times, in Unix seconds: the hold's creation and expiry.
    pub(crate) iat: i64,
    pub(crate) exp: i64,
}

impl Claims {
    pub(crate) fn of_hold(hold: &HoldView) -> Claims {
        Claims {
            jti: hold.hold_id.clone(),
            hold: hold.hold_id.clone(),
            drop: hold.drop.clone(),
            sku: hold.sku.clone(),
            qty: hold.quantity,
            iat: hold.created_at.unix_timestamp(),
            exp: hold.expires_at.unix_timestamp(),
        }
    }
}

/// Why a key or a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TokenError {
    #[error("{0}: not a PKCS#8 PEM Ed25519 private key (make one with `dropgen inventory keygen FILE`)")]
    BadKey(String),
    #[error("no signing key: give one with --signing-key FILE or DROPGEN_INVENTORY_SIGNING_KEY")]
    NoKey,
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token was not signed by a key of this service")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

/// One signing key.
pub(crate) struct Key {
    pair: Ed25519KeyPair,
    kid: String,
}

impl Key {
    /// A key from PEM text; `name` says where it came from, for the error.
    pub(crate) fn from_pem(pem: &[u8], name: &str) -> Result<Key, TokenError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|_| TokenError::BadKey(name.to_owned()))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
            .map_err(|_| TokenError::BadKey(name.to_owned()))?;
        let kid = thumbprint(pair.public_key().as_ref());
        Ok(Key { pair, kid })
    }

    /// A new random key, as PKCS#8 PEM.
    pub(crate) fn generate_pem() -> Result<String, TokenError> {
        let document = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .map_err(|_| TokenError::BadKey("the system's random source".to_owned()))?;
        let text = base64::engine::general_purpose::STANDARD.encode(document.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64.encode(self.pair.public_key().as_ref()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// The service's keys: the first signs, all verify.
pub(crate) struct Keys {
    keys: Vec<Key>,
}

impl Keys {
    pub(crate) fn new(keys: Vec<Key>) -> Result<Keys, TokenError> {
        if keys.is_empty() {
            return Err(TokenError::NoKey);
        }
        Ok(Keys { keys })
    }

    /// A secret only holders of the current key can compute, the same on every instance that
    /// shares it: Ed25519 signatures are deterministic, and this one is never sent anywhere.
    /// Keys the hash of client addresses in the observation records (`observation.rs`).
    pub(crate) fn derive_secret(&self, label: &str) -> [u8; 32] {
        use sha2::Digest as _;
        let signature = self.keys[0].pair.sign(label.as_bytes());
        sha2::Sha256::digest(signature.as_ref()).into()
    }

    /// The compact JWS of `claims`, signed by the current key.
    pub(crate) fn sign(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": key.kid });
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).unwrap_or_default())
        );
        let signature = key.pair.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(signature.as_ref()))
    }

    /// The claims of a token one of the keys signed, unexpired at `now` (Unix seconds).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.splitn(3, '.');
        let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            kid: String,
        }
        let header: Header = B64
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::BadSignature);
        }
        let key = self.keys.iter().find(|key| key.kid == header.kid).ok_or(TokenError::BadSignature)?;
        let signature_bytes = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        let signed = &token[..token.len() - signature.len() - 1];
        signature::UnparsedPublicKey::new(&signature::ED25519, key.pair.public_key().as_ref())
            .verify(signed.as_bytes(), &signature_bytes)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = B64
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// `/.well-known/jwks.json`.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(Key::jwk).collect::<Vec<_>>() })
    }

    /// The current key's id.
    pub(crate) fn current_kid(&self) -> &str {
        self.keys[0].kid()
    }
}

/// RFC 7638: the SHA-256 of the JWK's required members, in lexical order, base64url.
fn thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(public_key));
    B64.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Key> {
        (0..n)
            .map(|i| Key::from_pem(Key::generate_pem().unwrap().as_bytes(), &format!("key {i}")).unwrap())
            .collect()
    }

    fn claims() -> Claims {
        Claims {
            jti: "h_1".into(),
            hold: "h_1".into(),
            drop: "d".into(),
            sku: "S".into(),
            qty: 1,
            iat: 100,
            exp: 700,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let keys = Keys::new(keys(1)).unwrap();
        let token = keys.sign(&claims());
        assert_eq!(keys.verify(&token, 699), Ok(claims()));
        assert_eq!(keys.verify(&token, 700), Err(TokenError::Expired));
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let keys = Keys::new(keys(1)).unwrap();
        let token = keys.sign(&claims());
        let mut other = claims();
        other.qty = 5;
        let forged_payload = B64.encode(serde_json::to_vec(&other).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(keys.verify(&forged, 0), Err(TokenError::BadSignature));
        let stranger = Keys::new(self::keys(1)).unwrap().sign(&claims());
        assert_eq!(keys.verify(&stranger, 0), Err(TokenError::BadSignature));
        assert_eq!(keys.verify("not a token", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_and_new_ones_use_the_new_key() {
        let mut pems: Vec<Key> = keys(2);
        let old = Keys::new(vec![pems.remove(1)]).unwrap();
        let old_kid = old.current_kid().to_owned();
        let old_token = old.sign(&claims());
        let old_pem_key = old.keys.into_iter().next().unwrap();
        let rotated = Keys::new(vec![pems.remove(0), old_pem_key]).unwrap();
        assert_eq!(rotated.verify(&old_token, 0), Ok(claims()));
        assert_ne!(rotated.current_kid(), old_kid);
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037, appendix A.3: the thumbprint of its example public key.
        let x = B64.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(thumbprint(&x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_key_file_that_is_not_pkcs8_ed25519_is_refused() {
        assert!(matches!(Key::from_pem(b"nonsense", "k.pem"), Err(TokenError::BadKey(_))));
    }
}
