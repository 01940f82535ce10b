//! The cache in S3-compatible object storage (`--cache-dir s3://bucket/prefix`), through
//! `object_store`, with credentials, region and endpoint from the usual AWS environment.
//!
//! Entries are the same bytes under the same layout as in a folder (`<prefix>/v1/ab/<key>`),
//! so they are verified the same way. A PUT of a whole object is atomic: a reader sees the
//! old object, the new one or none, never part of one, so concurrent shards need no
//! temporary names. There are no locks in object storage: `dropgen cache gc` must not run
//! while builds use the same prefix.
//!
//! The image stage calls the cache from rayon threads; each call blocks on the one tokio
//! runtime the bucket owns. dropgen never builds from inside an async context (`serve` builds
//! on its own threads), so `block_on` is always allowed.

use std::fmt;

#[cfg(feature = "s3")]
mod bucket;
#[cfg(feature = "s3")]
pub(crate) use bucket::Bucket;

/// The environment variables the connection is configured from, for error messages.
pub(crate) use crate::error::S3_ENVIRONMENT as ENVIRONMENT;

/// `s3://bucket/prefix`, parsed: a bucket name and a key prefix without leading or trailing
/// slashes (empty for the whole bucket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    bucket: String,
    prefix: String,
}

impl Url {
    /// Parses `s3://bucket` or `s3://bucket/prefix/…`. A trailing slash is ignored; empty,
    /// `.` and `..` segments, queries and fragments are refused, so one cache has one name.
    pub(crate) fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .get(..5)
            .filter(|scheme| scheme.eq_ignore_ascii_case("s3://"))
            .map(|_| &text[5..])
            .ok_or_else(|| format!("`{text}` is not an s3:// URL"))?;
        if rest.contains(['?', '#']) {
            return Err(format!("`{text}`: an s3:// cache URL has no query or fragment"));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_bucket_name(bucket) {
            return Err(format!(
                "`{text}`: `{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, dots \
                 and hyphens, starting and ending with a letter or digit)"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && prefix.split('/').any(|part| matches!(part, "" | "." | "..")) {
            return Err(format!("`{text}`: the key prefix has an empty, `.` or `..` segment"));
        }
        #[cfg(feature = "s3")]
        if object_store::path::Path::parse(prefix).is_err() {
            return Err(format!("`{text}`: `{prefix}` cannot be an object key prefix"));
        }
        Ok(Url { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// The bucket's name.
    #[cfg(feature = "s3")]
    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, without leading or trailing slashes (empty for the whole bucket).
    #[cfg(feature = "s3")]
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            prefix => write!(f, "s3://{}/{prefix}", self.bucket),
        }
    }
}

/// S3's rules for bucket names (the common part: no dots next to each other or to a hyphen
/// is left to S3 itself, which answers with a clear error).
fn is_bucket_name(name: &str) -> bool {
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge(name.as_bytes().first())
        && edge(name.as_bytes().last())
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "s3")]
    use object_store::path::Path;

    use super::*;

    #[test]
    fn parses_buckets_and_prefixes() {
        let url = Url::parse("s3://shop-cache/dropgen/images/").unwrap();
        assert_eq!((url.bucket.as_str(), url.prefix.as_str()), ("shop-cache", "dropgen/images"));
        assert_eq!(url.to_string(), "s3://shop-cache/dropgen/images");
        let whole = Url::parse("S3://shop.cache").unwrap();
        assert_eq!((whole.bucket.as_str(), whole.prefix.as_str()), ("shop.cache", ""));
        assert_eq!(whole.to_string(), "s3://shop.cache");
        assert_eq!(Url::parse("s3://abc/").unwrap().to_string(), "s3://abc");
    }

    #[test]
    fn rejects_what_is_not_one_cache_location() {
        for (text, says) in [
            ("s3://", "is not a bucket name"),
            ("s3:///prefix", "is not a bucket name"),
            ("s3://ab", "is not a bucket name"),
            ("s3://Shop", "is not a bucket name"),
            ("s3://shop_cache", "is not a bucket name"),
            ("s3://-shop", "is not a bucket name"),
            ("s3://shop/a//b", "empty, `.` or `..` segment"),
            ("s3://shop//a", "empty, `.` or `..` segment"),
            ("s3://shop/a/../b", "empty, `.` or `..` segment"),
            ("s3://shop/a?versionId=1", "no query or fragment"),
            ("gs://shop/a", "is not an s3:// URL"),
        ] {
            let err = Url::parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.contains(text), "the error names the URL: {err}");
        }
    }

    #[cfg(feature = "s3")]
    #[test]
    fn entries_have_the_folder_layout_under_the_prefix() {
        let key = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
        let url = Url::parse("s3://shop/ci/cache").unwrap();
        assert_eq!(url.entry("v1", key).as_ref(), format!("ci/cache/v1/ab/{key}"));
        assert_eq!(url.entry("compressed-v1", key).as_ref(), format!("ci/cache/compressed-v1/ab/{key}"));
        let whole = Url::parse("s3://shop").unwrap();
        assert_eq!(whole.entry("v1", key).as_ref(), format!("v1/ab/{key}"));
        let parts = url.below(&url.entry("v1", key)).unwrap();
        assert_eq!(parts, ["v1", "ab", key]);
        assert_eq!(url.below(&Path::from("ci/other/v1/ab/x")), None);
        // A prefix matches whole segments only: `ci/cache2` is another cache.
        assert_eq!(url.below(&Path::from("ci/cache2/v1/ab/x")), None);
    }
}
