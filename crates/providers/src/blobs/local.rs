//! Blobs as files under a root directory — for development and a single process: another machine
//! cannot read them (`deploy/SCALING.md`). Keys are relative paths of safe characters only, so a
//! key can never escape the root.

use super::{key_is_safe, unsafe_key};
use futures::StreamExt;
use leadzone_ports::RepoError;
use leadzone_ports::blobs::{BlobStore, ByteStream};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
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
        if key_is_safe(key) { Ok(self.root.join(key)) } else { Err(unsafe_key(key)) }
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

/// Where a write goes until it is complete: a name no key can have (keys have no `~`).
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!("~{}.partial", uuid::Uuid::now_v7().simple()));
    path.with_file_name(name)
}

fn count_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 })
        .sum()
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        self.put_stream(key, leadzone_ports::blobs::once(data.to_vec())).await.map(|_| ())
    }

    async fn put_stream(&self, key: &str, mut body: ByteStream) -> Result<u64, RepoError> {
        let path = self.path(key)?;
        ensure_parent(&path).await?;
        // Write then rename: a reader never sees half a file.
        let tmp = partial(&path);
        let written = async {
            let mut f = tokio::fs::File::create(&tmp).await.map_err(io)?;
            let mut n = 0u64;
            while let Some(piece) = body.next().await {
                let piece = piece?;
                f.write_all(&piece).await.map_err(io)?;
                n += piece.len() as u64;
            }
            f.flush().await.map_err(io)?;
            Ok::<_, RepoError>(n)
        }
        .await;
        match written {
            Ok(n) => {
                tokio::fs::rename(&tmp, &path).await.map_err(io)?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        tokio::fs::read(self.path(key)?).await.map_err(io)
    }

    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError> {
        let mut f = tokio::fs::File::open(self.path(key)?).await.map_err(io)?;
        f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
        let mut buf = Vec::with_capacity(max.min(1 << 20));
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

    async fn folders(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        let dir = self.path(folder)?;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut names = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            if entry.file_type().await.map_err(io)?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    async fn delete_folder(&self, folder: &str) -> Result<u64, RepoError> {
        let dir = self.path(folder)?;
        tokio::task::spawn_blocking(move || {
            let files = count_files(&dir);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(files),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(e) => Err(io(e)),
            }
        })
        .await
        .map_err(|e| RepoError::Other(e.to_string()))?
    }

    /// A killed process can leave a `~….partial` file; those older than `before` are removed.
    async fn purge_abandoned(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let root = self.root.clone();
        let cutoff = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(before.unix_timestamp()).unwrap_or(0));
        tokio::task::spawn_blocking(move || {
            let mut removed = 0u64;
            let mut folders = vec![root];
            while let Some(dir) = folders.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        folders.push(path);
                    } else if path.to_string_lossy().ends_with(".partial")
                        && meta.modified().is_ok_and(|m| m < cutoff)
                        && std::fs::remove_file(&path).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
            removed
        })
        .await
        .map_err(|e| RepoError::Other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (LocalBlobStore, PathBuf) {
        let root = std::env::temp_dir().join(format!("leadzone-blobs-{}", uuid::Uuid::now_v7().simple()));
        (LocalBlobStore::new(&root), root)
    }

    #[tokio::test]
    async fn put_stream_read_and_refuse_escapes() {
        let (store, root) = store();
        store.put("a/b.csv", b"hello").await.unwrap();
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(b"hello".to_vec()), Ok(b" world".to_vec())]));
        assert_eq!(store.put_stream("a/b.csv", body).await.unwrap(), 11);
        assert_eq!(store.get("a/b.csv").await.unwrap(), b"hello world");
        assert_eq!(store.read_at("a/b.csv", 6, 100).await.unwrap(), b"world");
        assert_eq!(store.read_at("a/b.csv", 100, 10).await.unwrap(), b"");
        assert_eq!(store.get("a/missing").await, Err(RepoError::NotFound));
        assert_eq!(store.read_at("a/missing", 0, 1).await, Err(RepoError::NotFound));
        for bad in ["../x", "/etc/passwd", "a//b", "a/../../b", "", "a/b~c"] {
            assert!(store.put(bad, b"x").await.is_err(), "{bad:?}");
        }
        store.delete("a/b.csv").await.unwrap();
        store.delete("a/b.csv").await.unwrap();
        assert_eq!(store.get("a/b.csv").await, Err(RepoError::NotFound));
        tokio::fs::remove_dir_all(root).await.unwrap();
    }

    #[tokio::test]
    async fn folders_list_and_go_whole() {
        let (store, root) = store();
        for key in ["imports/t1/a.csv", "imports/t1/b.csv", "imports/t2/a.csv", "imports/top.csv", "exports/t1/e.csv"] {
            store.put(key, b"x").await.unwrap();
        }
        let mut names = store.folders("imports").await.unwrap();
        names.sort();
        assert_eq!(names, ["t1", "t2"]);
        assert_eq!(store.delete_folder("imports/t1").await.unwrap(), 2);
        assert_eq!(store.folders("imports").await.unwrap(), ["t2"]);
        assert!(store.get("exports/t1/e.csv").await.is_ok());
        assert_eq!(store.delete_folder("imports/none").await.unwrap(), 0);
        assert!(store.folders("nothing").await.unwrap().is_empty());
        assert!(store.delete_folder("../x").await.is_err());
        tokio::fs::remove_dir_all(root).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_stream_keeps_the_old_object_and_leaves_nothing_behind() {
        let (store, root) = store();
        store.put("k.csv", b"old").await.unwrap();
        let body: ByteStream =
            Box::pin(futures::stream::iter([Ok(b"new".to_vec()), Err(RepoError::Other("client went away".into()))]));
        assert!(store.put_stream("k.csv", body).await.is_err());
        assert_eq!(store.get("k.csv").await.unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("k.csv")]);
        // A partial file a killed process left behind is swept once it is old enough.
        std::fs::write(root.join("x.csv~abc.partial"), b"half").unwrap();
        assert_eq!(store.purge_abandoned(OffsetDateTime::now_utc() - time::Duration::hours(1)).await.unwrap(), 0);
        assert_eq!(store.purge_abandoned(OffsetDateTime::now_utc() + time::Duration::hours(1)).await.unwrap(), 1);
        assert_eq!(store.get("k.csv").await.unwrap(), b"old");
        tokio::fs::remove_dir_all(root).await.unwrap();
    }
}
