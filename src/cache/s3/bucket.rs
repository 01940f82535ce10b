//! The connection to a bucket (the `s3` feature): object_store's S3 client on a runtime of
//! its own.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use super::Url;

impl Url {
    /// The key of `name` in the layout folder `layout` (`<prefix>/v1/ab/<name>`): the same
    /// layout as a cache folder's.
    pub(crate) fn entry(&self, layout: &str, name: &str) -> Path {
        self.root().join(layout).join(crate::cache::shard_of(name)).join(name)
    }

    /// The prefix as an object path (the bucket's root when empty).
    fn root(&self) -> Path {
        // `parse` checked that the prefix parses.
        Path::parse(&self.prefix).unwrap_or_default()
    }

    /// The parts of `path` below the prefix, if it is under it.
    pub(crate) fn below(&self, path: &Path) -> Option<Vec<String>> {
        Some(path.prefix_match(&self.root())?.map(|part| part.as_ref().to_owned()).collect())
    }
}

/// A connection to the bucket of a [`Url`], and the runtime its requests run on.
pub(crate) struct Bucket {
    url: Url,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bucket").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Bucket {
    /// Connects to the bucket of `url` and lists its prefix once, so a bucket that does not
    /// exist or cannot be reached (credentials, endpoint, network) fails here, before any work,
    /// rather than as a warning about every entry.
    pub(crate) fn connect(url: &Url) -> Result<Bucket, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dropgen-s3")
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start the object storage client: {err}"))?;
        // Fewer and shorter retries than the default (10 over up to 3 minutes): a build that
        // cannot reach its cache should say so promptly, and a failed write only costs a miss.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        };
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            .with_retry(retry)
            .build()
            .map_err(|err| err.to_string())?;
        let bucket = Bucket { url: url.clone(), store, runtime };
        let root = bucket.url.root();
        bucket.run(bucket.store.list_with_delimiter(Some(&root))).map_err(|err| err.to_string())?;
        Ok(bucket)
    }

    /// The URL this bucket was opened at.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The object at `path`; `None` when there is none.
    pub(crate) fn get(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let result = self.run(async {
            let object = self.store.get(path).await?;
            object.bytes().await
        });
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(io::Error::other(err)),
        }
    }

    /// Writes the object at `path` in one request, so no reader ever sees part of it.
    pub(crate) fn put(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        self.run(self.store.put(path, PutPayload::from(bytes))).map(|_| ()).map_err(io::Error::other)
    }

    /// Deletes the object at `path` (deleting one that is not there is not an error).
    pub(crate) fn delete(&self, path: &Path) -> io::Result<()> {
        match self.run(self.store.delete(path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(io::Error::other(err)),
        }
    }

    /// Every object under the prefix, with its size.
    pub(crate) fn list(&self) -> io::Result<Vec<(Path, u64)>> {
        let root = self.url.root();
        self.run(self.store.list(Some(&root)).map_ok(|meta| (meta.location, meta.size)).try_collect())
            .map_err(io::Error::other)
    }

    /// Deletes every object in `paths`, in batches (S3's DeleteObjects).
    pub(crate) fn delete_all(&self, paths: Vec<Path>) -> io::Result<()> {
        let locations = futures_util::stream::iter(paths.into_iter().map(Ok)).boxed();
        self.run(async {
            let mut deleted = self.store.delete_stream(locations);
            while let Some(result) = deleted.next().await {
                match result {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(err) => return Err(io::Error::other(err)),
                }
            }
            Ok(())
        })
    }
}
