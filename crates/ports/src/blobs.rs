//! Files the system keeps — import uploads, export results, error reports, retention archives —
//! in a store every process reaches (PostgreSQL by default, S3-compatible object storage, or a
//! local folder for development). Keys are built by the app from tenant and job ids only
//! (`imports/{tenant}/…`, `exports/{tenant}/…`, `archives/…`): a tenant never names one.

use crate::RepoError;
use std::pin::Pin;
use time::OffsetDateTime;

/// A body arriving or leaving in pieces, so that no file is ever held whole in memory. An `Err`
/// item aborts a write: the object is then not created (or keeps its previous content).
pub type ByteStream = Pin<Box<dyn futures::Stream<Item = Result<Vec<u8>, RepoError>> + Send>>;

/// A stream of exactly one piece.
pub fn once(data: Vec<u8>) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(data)]))
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes (or replaces) a small object whole.
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError>;
    /// Writes (or replaces) an object from a stream, holding at most a bounded part of it in
    /// memory (S3: multipart upload). Readers see the previous object or the whole new one, never
    /// a part; a stream that fails leaves no new object behind. Returns the bytes written.
    async fn put_stream(&self, key: &str, body: ByteStream) -> Result<u64, RepoError>;
    /// A whole object, for objects the system bounds (an upload is at most 50 MB).
    /// # Errors
    /// `NotFound` when no such object exists.
    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError>;
    /// Up to `max` bytes from `offset` (a ranged read); empty at or past the end.
    /// # Errors
    /// `NotFound` when no such object exists.
    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError>;
    /// Removes an object; removing one that does not exist is not an error.
    async fn delete(&self, key: &str) -> Result<(), RepoError>;
    /// The names directly under `folder/` that hold objects (`imports` → the tenant ids with
    /// uploads), each once, in no particular order.
    async fn folders(&self, folder: &str) -> Result<Vec<String>, RepoError>;
    /// Removes every object under `folder/` (a tenant's files once the tenant is gone); returns
    /// how many.
    async fn delete_folder(&self, folder: &str) -> Result<u64, RepoError>;
    /// Removes writes that were started before `before` and never finished (a process killed in
    /// the middle of an upload); returns how many. Stores that cannot leave such writes behind, or
    /// that clean them up themselves (an S3 lifecycle rule), return 0.
    async fn purge_abandoned(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
}
