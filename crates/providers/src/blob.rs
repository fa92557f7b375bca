//! Blobs as files under a root directory. Keys are relative paths of safe characters only, so
//! a key can never escape the root.

use leadzone_ports::RepoError;
use leadzone_ports::jobs::BlobStore;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, RepoError> {
        let safe = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            });
        if safe { Ok(self.root.join(key)) } else { Err(RepoError::Other(format!("unsafe blob key {key:?}"))) }
    }
}

fn io(e: std::io::Error) -> RepoError {
    if e.kind() == std::io::ErrorKind::NotFound { RepoError::NotFound } else { RepoError::Other(e.to_string()) }
}

async fn ensure_parent(path: &Path) -> Result<(), RepoError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        let path = self.path(key)?;
        ensure_parent(&path).await?;
        // Write then rename: a reader never sees half a file.
        let tmp = path.with_extension("partial");
        tokio::fs::write(&tmp, data).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn append(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        let path = self.path(key)?;
        ensure_parent(&path).await?;
        let mut f = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await.map_err(io)?;
        f.write_all(data).await.map_err(io)?;
        f.flush().await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        tokio::fs::read(self.path(key)?).await.map_err(io)
    }

    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError> {
        let mut f = tokio::fs::File::open(self.path(key)?).await.map_err(io)?;
        f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
        let mut buf = Vec::with_capacity(max);
        f.take(max as u64).read_to_end(&mut buf).await.map_err(io)?;
        Ok(buf)
    }

    async fn delete(&self, key: &str) -> Result<(), RepoError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_append_read_and_refuse_escapes() {
        let root = std::env::temp_dir().join(format!("leadzone-blobs-{}", std::process::id()));
        let store = LocalBlobStore::new(&root);
        store.put("a/b.csv", b"hello").await.unwrap();
        store.append("a/b.csv", b" world").await.unwrap();
        assert_eq!(store.get("a/b.csv").await.unwrap(), b"hello world");
        assert_eq!(store.read_at("a/b.csv", 6, 100).await.unwrap(), b"world");
        assert_eq!(store.read_at("a/b.csv", 100, 10).await.unwrap(), b"");
        assert_eq!(store.get("a/missing").await, Err(RepoError::NotFound));
        for bad in ["../x", "/etc/passwd", "a//b", "a/../../b", ""] {
            assert!(store.put(bad, b"x").await.is_err(), "{bad:?}");
        }
        store.delete("a/b.csv").await.unwrap();
        assert_eq!(store.get("a/b.csv").await, Err(RepoError::NotFound));
        tokio::fs::remove_dir_all(root).await.unwrap();
    }
}
