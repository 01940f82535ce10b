//! The bucket a deploy goes to: object_store's S3 client (the one `--cache-dir s3://` uses)
//! on a runtime of its own, with credentials, region and endpoint from the usual AWS
//! environment.
//!
//! Every object is written in one PUT (atomic: readers see the old object or the new one)
//! with `Content-Type`, `Cache-Control`, `Content-Encoding` and the metadata
//! `x-amz-meta-surrogate-key` (cache tags) and `x-amz-meta-cdn-cache-control`, and an
//! `x-amz-checksum-sha256` the store verifies: object_store 0.13 cannot send a per-request
//! `Content-MD5`, and the SHA-256 checksum gives the same guarantee (S3, R2 and MinIO reject
//! a body that does not match).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, Checksum};
use object_store::path::Path as Key;
use object_store::{
    Attribute, Attributes, BackoffConfig, GetOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload,
    RetryConfig,
};

use super::error::DeployError;
use super::execute::{Target, read_checked};
use super::plan::Upload;
use super::record::{CDN_CACHE_CONTROL, Deployed, Head, KEY, SURROGATE_KEY};
use crate::cache::s3::Url;
use crate::error::S3_ENVIRONMENT;
use crate::progress::Progress;

/// Requests in flight at once: enough to hide latency, few enough for any store's limits.
const CONCURRENCY: usize = 8;

/// For tests only: the process aborts, as if killed, right after this many requests that
/// change the bucket (uploads, record writes, deletions) have completed.
const ABORT_AFTER: &str = "DROPGEN_TEST_DEPLOY_ABORT_AFTER";

/// A connection to the bucket and prefix of a [`Url`].
pub(super) struct S3Target {
    url: Url,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
    changes: AtomicU64,
    abort_after: Option<u64>,
}

impl S3Target {
    /// Connects and lists the prefix, so a bucket that cannot be reached or used fails
    /// here, before anything is uploaded, with what to fix.
    pub(super) fn connect(url: &Url) -> Result<S3Target, DeployError> {
        let connect_error =
            |reason: String| DeployError::Connect { url: url.to_string(), hint: hint(&reason), reason };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dropgen-deploy")
            .enable_all()
            .build()
            .map_err(|err| connect_error(format!("cannot start the object storage client: {err}")))?;
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(60),
        };
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(url.bucket())
            .with_retry(retry)
            .with_checksum_algorithm(Checksum::SHA256)
            .build()
            .map_err(|err| connect_error(err.to_string()))?;
        let abort_after = std::env::var(ABORT_AFTER).ok().and_then(|text| text.parse().ok());
        let target = S3Target { url: url.clone(), store, runtime, changes: AtomicU64::new(0), abort_after };
        // The first page of a listing only (one request, whatever the prefix holds): a GET
        // of the record cannot tell a missing bucket from a first deploy (both are 404).
        let root = target.key("")?;
        let first = target.runtime.block_on(async { target.store.list(Some(&root)).next().await });
        if let Some(Err(err)) = first {
            return Err(connect_error(err.to_string()));
        }
        Ok(target)
    }

    /// The object key of `path` below the prefix.
    fn key(&self, path: &str) -> Result<Key, DeployError> {
        let full = match (self.url.prefix(), path) {
            (prefix, "") => prefix.to_owned(),
            ("", path) => path.to_owned(),
            (prefix, path) => format!("{prefix}/{path}"),
        };
        Key::parse(&full).map_err(|err| DeployError::Request {
            action: "name",
            url: self.url.to_string(),
            key: path.to_owned(),
            reason: err.to_string(),
            hint: "the manifest lists a path that cannot be an object key; build again".to_owned(),
        })
    }

    fn request_error(&self, action: &'static str, path: &str, err: object_store::Error) -> DeployError {
        let reason = err.to_string();
        DeployError::Request {
            action,
            url: self.url.to_string(),
            key: path.to_owned(),
            hint: hint(&reason),
            reason,
        }
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Counts a request that changed the bucket; the test hook's abort point.
    fn changed(&self) {
        let done = self.changes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_after == Some(done) {
            std::process::abort();
        }
    }

    async fn put(&self, path: &str, bytes: Vec<u8>, want: &Deployed) -> Result<(), DeployError> {
        let key = self.key(path)?;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, want.content_type.clone().into());
        attributes.insert(Attribute::CacheControl, want.cache_control.clone().into());
        if let Some(encoding) = &want.content_encoding {
            attributes.insert(Attribute::ContentEncoding, encoding.clone().into());
        }
        attributes.insert(Attribute::Metadata(SURROGATE_KEY.into()), want.surrogate_key.clone().into());
        if let Some(cdn) = &want.cdn_cache_control {
            attributes.insert(Attribute::Metadata(CDN_CACHE_CONTROL.into()), cdn.clone().into());
        }
        let options = PutOptions { attributes, ..PutOptions::default() };
        self.store
            .put_opts(&key, PutPayload::from(bytes), options)
            .await
            .map_err(|err| self.request_error("upload", path, err))?;
        self.changed();
        Ok(())
    }

    async fn head(&self, path: &str) -> Result<(String, Option<Head>), DeployError> {
        let key = self.key(path)?;
        let options = GetOptions { head: true, ..GetOptions::default() };
        match self.store.get_opts(&key, options).await {
            Ok(result) => {
                let attribute = |name: &Attribute| result.attributes.get(name).map(|value| value.to_string());
                let metadata = result
                    .attributes
                    .iter()
                    .filter_map(|(name, value)| match name {
                        Attribute::Metadata(name) => Some((name.to_string(), value.to_string())),
                        _ => None,
                    })
                    .collect();
                let head = Head {
                    size: result.meta.size,
                    etag: result.meta.e_tag.clone(),
                    content_type: attribute(&Attribute::ContentType),
                    cache_control: attribute(&Attribute::CacheControl),
                    content_encoding: attribute(&Attribute::ContentEncoding),
                    metadata,
                };
                Ok((path.to_owned(), Some(head)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok((path.to_owned(), None)),
            Err(err) => Err(self.request_error("look at", path, err)),
        }
    }

    async fn upload_one(
        &self,
        public: &Path,
        upload: &Upload,
        progress: &dyn Progress,
    ) -> Result<(), DeployError> {
        let bytes = read_checked(public, upload)?;
        let result = self.put(&upload.path, bytes, &upload.want).await;
        progress.advance(1);
        result
    }

    async fn delete_one(&self, path: &str) -> Result<(), DeployError> {
        let key = self.key(path)?;
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                self.changed();
                Ok(())
            }
            Err(err) => Err(self.request_error("delete", path, err)),
        }
    }
}

impl Target for S3Target {
    fn name(&self) -> String {
        self.url.to_string()
    }

    fn read_record(&self) -> Result<Option<Vec<u8>>, DeployError> {
        let key = self.key(KEY)?;
        let result = self.run(async {
            let object = self.store.get(&key).await?;
            object.bytes().await
        });
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(self.request_error("read the deploy record", KEY, err)),
        }
    }

    fn write_record(&self, bytes: Vec<u8>) -> Result<(), DeployError> {
        let key = self.key(KEY)?;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "application/json".into());
        attributes.insert(Attribute::CacheControl, "no-store".into());
        let options = PutOptions { attributes, ..PutOptions::default() };
        self.run(self.store.put_opts(&key, PutPayload::from(bytes), options))
            .map_err(|err| self.request_error("write the deploy record", KEY, err))?;
        self.changed();
        Ok(())
    }

    fn heads(&self, paths: &[String]) -> Result<BTreeMap<String, Option<Head>>, DeployError> {
        let results: Vec<Result<(String, Option<Head>), DeployError>> = self.run(
            futures_util::stream::iter(paths)
                .map(|path| self.head(path))
                .buffer_unordered(CONCURRENCY)
                .collect(),
        );
        results.into_iter().collect()
    }

    fn upload(
        &self,
        batch: &[Upload],
        public: &Path,
        progress: &dyn Progress,
    ) -> Vec<Result<(), DeployError>> {
        // `buffered`, not `buffer_unordered`: the results come back in the batch's order.
        self.run(
            futures_util::stream::iter(batch)
                .map(|upload| self.upload_one(public, upload, progress))
                .buffered(CONCURRENCY)
                .collect(),
        )
    }

    fn delete(&self, paths: &[String]) -> Result<(), DeployError> {
        let results: Vec<Result<(), DeployError>> = self.run(
            futures_util::stream::iter(paths)
                .map(|path| self.delete_one(path))
                .buffer_unordered(CONCURRENCY)
                .collect(),
        );
        results.into_iter().collect()
    }
}

/// What to do about a failed request, from what the store answered.
fn hint(reason: &str) -> String {
    let has = |needle: &str| reason.contains(needle);
    if has("169.254.169.254") {
        // Without keys in the environment, the client asks the instance metadata service.
        "no credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run where instance or web-identity credentials are available)".to_owned()
    } else if has("InvalidAccessKeyId") || has("SignatureDoesNotMatch") || has("403") || has("AccessDenied") {
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may read and write this bucket"
            .to_owned()
    } else if has("NoSuchBucket") {
        "create the bucket, or fix its name in --to".to_owned()
    } else if has("error sending request") || has("onnection refused") || has("dns error") || has("timed out")
    {
        "check AWS_ENDPOINT_URL (with AWS_ALLOW_HTTP=true for an http:// endpoint) and the network".to_owned()
    } else {
        format!("the connection is configured by {S3_ENVIRONMENT}")
    }
}
