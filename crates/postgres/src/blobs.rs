//! Blobs in PostgreSQL (migration 0021): a header row per object and its content in 1 MiB chunks,
//! on the system role. A write streams its chunks in one statement each under an incomplete
//! header and becomes visible at once in a short final transaction; a ranged read fetches only the
//! chunks it covers.

use crate::error::db_err;
use futures::StreamExt;
use leadzone_ports::RepoError;
use leadzone_ports::blobs::{BlobStore, ByteStream};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use time::OffsetDateTime;

/// The size of every chunk but an object's last.
pub const CHUNK: usize = 1024 * 1024;

pub struct PgBlobStore {
    db: DatabaseConnection,
}

impl PgBlobStore {
    /// `db` must be a pool of `leadzone_system`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    async fn insert_chunk(&self, id: uuid::Uuid, seq: i32, data: Vec<u8>) -> Result<(), RepoError> {
        self.db
            .execute_raw(Self::stmt(
                "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)",
                [id.into(), seq.into(), data.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Writes the chunks of `body` under the incomplete header `id`; returns the size.
    async fn write_chunks(&self, id: uuid::Uuid, body: &mut ByteStream) -> Result<u64, RepoError> {
        let (mut buf, mut seq, mut size) = (Vec::with_capacity(CHUNK), 0i32, 0u64);
        while let Some(piece) = body.next().await {
            let piece = piece?;
            size += piece.len() as u64;
            let mut rest = piece.as_slice();
            while !rest.is_empty() {
                let take = (CHUNK - buf.len()).min(rest.len());
                let (head, tail) = rest.split_at_checked(take).unwrap_or((rest, &[]));
                buf.extend_from_slice(head);
                rest = tail;
                if buf.len() == CHUNK {
                    self.insert_chunk(id, seq, std::mem::replace(&mut buf, Vec::with_capacity(CHUNK))).await?;
                    seq += 1;
                }
            }
        }
        if !buf.is_empty() {
            self.insert_chunk(id, seq, buf).await?;
        }
        Ok(size)
    }

    /// The complete object under `key`: its id and size.
    async fn find(&self, key: &str) -> Result<(uuid::Uuid, u64), RepoError> {
        let row = self
            .db
            .query_one_raw(Self::stmt("SELECT id, size FROM blobs WHERE key = $1 AND complete", [key.into()]))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        let id: uuid::Uuid = row.try_get("", "id").map_err(db_err)?;
        let size: i64 = row.try_get("", "size").map_err(db_err)?;
        Ok((id, u64::try_from(size).unwrap_or(0)))
    }

    /// Chunks `first..=last` of blob `id`, in order, joined.
    async fn chunks(&self, id: uuid::Uuid, first: i64, last: i64) -> Result<Vec<u8>, RepoError> {
        let rows = self
            .db
            .query_all_raw(Self::stmt(
                "SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
                [id.into(), first.into(), last.into()],
            ))
            .await
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let data: Vec<u8> = row.try_get("", "data").map_err(db_err)?;
            out.extend_from_slice(&data);
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl BlobStore for PgBlobStore {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        self.put_stream(key, leadzone_ports::blobs::once(data.to_vec())).await.map(|_| ())
    }

    async fn put_stream(&self, key: &str, mut body: ByteStream) -> Result<u64, RepoError> {
        let id = uuid::Uuid::now_v7();
        self.db
            .execute_raw(Self::stmt("INSERT INTO blobs (id, key) VALUES ($1, $2)", [id.into(), key.into()]))
            .await
            .map_err(db_err)?;
        let written = self.write_chunks(id, &mut body).await;
        let finished = match written {
            Ok(size) => {
                let finish = async {
                    let tx = self.db.begin().await.map_err(db_err)?;
                    // Two writers of one key finish one after the other; the later one wins.
                    tx.execute_raw(Self::stmt("SELECT pg_advisory_xact_lock(hashtextextended($1, 21))", [key.into()]))
                        .await
                        .map_err(db_err)?;
                    tx.execute_raw(Self::stmt("DELETE FROM blobs WHERE key = $1 AND complete", [key.into()]))
                        .await
                        .map_err(db_err)?;
                    let made = tx
                        .execute_raw(Self::stmt(
                            "UPDATE blobs SET complete = TRUE, size = $2 WHERE id = $1 AND NOT complete",
                            [id.into(), (size as i64).into()],
                        ))
                        .await
                        .map_err(db_err)?;
                    if made.rows_affected() != 1 {
                        // Purged as abandoned while it was written: the old object stays.
                        return Err(RepoError::Other("the write was purged before it finished".into()));
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok::<_, RepoError>(size)
                };
                finish.await
            }
            Err(e) => Err(e),
        };
        if finished.is_err() {
            // Best effort: what is left is incomplete, invisible, and purged by retention.
            let _ = self.db.execute_raw(Self::stmt("DELETE FROM blobs WHERE id = $1", [id.into()])).await;
        }
        finished
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        let (id, size) = self.find(key).await?;
        let all = self.chunks(id, 0, i64::from(i32::MAX)).await?;
        // Removed between the two reads: gone, not shorter.
        if all.len() as u64 == size { Ok(all) } else { Err(RepoError::NotFound) }
    }

    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError> {
        let (id, size) = self.find(key).await?;
        if offset >= size || max == 0 {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(max as u64));
        let chunk = CHUNK as u64;
        let (first, last) = (offset / chunk, (end - 1) / chunk);
        let joined = self.chunks(id, first as i64, last as i64).await?;
        let from = usize::try_from(offset - first * chunk).unwrap_or(usize::MAX);
        let to = usize::try_from(end - first * chunk).unwrap_or(usize::MAX);
        // Fewer bytes than the header promised: the object was removed between the two reads.
        // NotFound, never a short read that a download would take for the end of the file.
        joined.get(from..to).map(<[u8]>::to_vec).ok_or(RepoError::NotFound)
    }

    async fn delete(&self, key: &str) -> Result<(), RepoError> {
        self.db
            .execute_raw(Self::stmt("DELETE FROM blobs WHERE key = $1 AND complete", [key.into()]))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn folders(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        let rows = self
            .db
            .query_all_raw(Self::stmt(
                "SELECT DISTINCT split_part(substr(key, length($1) + 2), '/', 1) AS name FROM blobs
                  WHERE starts_with(key, $1 || '/') AND strpos(substr(key, length($1) + 2), '/') > 0",
                [folder.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get::<String>("", "name").map_err(db_err)).collect()
    }

    async fn delete_folder(&self, folder: &str) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(Self::stmt("DELETE FROM blobs WHERE starts_with(key, $1 || '/')", [folder.into()]))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn purge_abandoned(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(Self::stmt("DELETE FROM blobs WHERE NOT complete AND created_at < $1", [before.into()]))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }
}
