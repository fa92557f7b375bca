//! The PostgreSQL blob store on the system role: chunked writes streamed in any piece size,
//! ranged reads across chunk boundaries, all-or-nothing replacement, NotFound, the abandoned-write
//! purge, and no access for the application role.

use leadzone_ports::RepoError;
use leadzone_ports::blobs::{BlobStore, ByteStream};
use leadzone_postgres::{PgBlobStore, PoolConfig, connect};
use leadzone_testkit::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

const MIB: usize = 1024 * 1024;

async fn store(db: &TestDb) -> PgBlobStore {
    PgBlobStore::new(connect(&db.system_url(), &PoolConfig { max_connections: 4, ..Default::default() }).await.unwrap())
}

fn pieces(data: &[u8], size: usize) -> ByteStream {
    let parts: Vec<Result<Vec<u8>, RepoError>> = data.chunks(size).map(|c| Ok(c.to_vec())).collect();
    Box::pin(futures::stream::iter(parts))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    let row = db
        .owner()
        .await
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn chunked_writes_ranged_reads_and_deletes() {
    let db = TestDb::new().await;
    let store = store(&db).await;
    // 2.5 MiB in 300,001-byte pieces: chunks are cut at 1 MiB whatever the pieces were.
    let data = pattern(5 * MIB / 2);
    assert_eq!(store.put_stream("exports/t/j.csv", pieces(&data, 300_001)).await.unwrap(), data.len() as u64);
    assert_eq!(count(&db, "SELECT count(*) FROM blob_chunks").await, 3);
    assert_eq!(count(&db, "SELECT max(length(data))::bigint FROM blob_chunks").await, MIB as i64);
    assert_eq!(store.get("exports/t/j.csv").await.unwrap(), data);
    // Ranged reads: inside a chunk, across two boundaries, up to the end, at and past the end.
    assert_eq!(store.read_at("exports/t/j.csv", 10, 5).await.unwrap(), data[10..15]);
    let across = MIB - 3;
    assert_eq!(
        store.read_at("exports/t/j.csv", across as u64, MIB + 10).await.unwrap(),
        data[across..across + MIB + 10]
    );
    assert_eq!(store.read_at("exports/t/j.csv", (data.len() - 4) as u64, 100).await.unwrap(), data[data.len() - 4..]);
    assert_eq!(store.read_at("exports/t/j.csv", data.len() as u64, 100).await.unwrap(), b"");
    assert_eq!(store.read_at("exports/t/j.csv", u64::MAX - 1, 100).await.unwrap(), b"");
    // Small and empty objects exist as themselves.
    store.put("imports/t/e.csv", b"").await.unwrap();
    assert_eq!(store.get("imports/t/e.csv").await.unwrap(), b"");
    store.put("imports/t/s.csv", "اسم,مدينة\n".as_bytes()).await.unwrap();
    assert_eq!(store.get("imports/t/s.csv").await.unwrap(), "اسم,مدينة\n".as_bytes());
    // Missing keys.
    assert_eq!(store.get("imports/t/none.csv").await, Err(RepoError::NotFound));
    assert_eq!(store.read_at("imports/t/none.csv", 0, 1).await, Err(RepoError::NotFound));
    // Replacing, then deleting: no chunk outlives its object.
    store.put("exports/t/j.csv", b"v2").await.unwrap();
    assert_eq!(store.get("exports/t/j.csv").await.unwrap(), b"v2");
    store.delete("exports/t/j.csv").await.unwrap();
    store.delete("exports/t/j.csv").await.unwrap();
    assert_eq!(store.get("exports/t/j.csv").await, Err(RepoError::NotFound));
    assert_eq!(count(&db, "SELECT count(*) FROM blobs").await, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM blob_chunks").await, 1, "the small file's one chunk");
}

#[tokio::test]
async fn a_failed_write_keeps_the_old_object_and_a_killed_one_is_purged() {
    let db = TestDb::new().await;
    let store = store(&db).await;
    store.put("k.csv", b"old").await.unwrap();
    let data = pattern(3 * MIB);
    let mut failing: Vec<Result<Vec<u8>, RepoError>> = data.chunks(MIB / 2).map(|c| Ok(c.to_vec())).collect();
    failing.push(Err(RepoError::Other("the client went away".into())));
    let err = store.put_stream("k.csv", Box::pin(futures::stream::iter(failing))).await.unwrap_err();
    assert_eq!(err, RepoError::Other("the client went away".into()));
    assert_eq!(store.get("k.csv").await.unwrap(), b"old");
    assert_eq!(count(&db, "SELECT count(*) FROM blobs").await, 1, "the failed write cleaned up after itself");

    // A process killed half way leaves an incomplete header and chunks: invisible, then purged.
    db.owner()
        .await
        .execute_unprepared(
            "INSERT INTO blobs (id, key, created_at) VALUES ('0190f0a8-0000-7000-8000-0000000000aa', 'k.csv', now() - interval '2 days');
             INSERT INTO blob_chunks (blob_id, seq, data) VALUES ('0190f0a8-0000-7000-8000-0000000000aa', 0, 'half');",
        )
        .await
        .unwrap();
    assert_eq!(store.get("k.csv").await.unwrap(), b"old");
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(store.purge_abandoned(now - time::Duration::days(3)).await.unwrap(), 0);
    assert_eq!(store.purge_abandoned(now - time::Duration::days(1)).await.unwrap(), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM blob_chunks").await, 1, "only the old object's chunk");
    assert_eq!(store.get("k.csv").await.unwrap(), b"old");
}

#[tokio::test]
async fn writers_of_one_key_at_once_leave_one_whole_object() {
    let db = TestDb::new().await;
    let store = store(&db).await;
    let (a, b) = (pattern(2 * MIB), vec![b'x'; 3 * MIB / 2]);
    let (ra, rb) =
        futures::join!(store.put_stream("k.csv", pieces(&a, 65_536)), store.put_stream("k.csv", pieces(&b, 65_536)));
    ra.unwrap();
    rb.unwrap();
    let got = store.get("k.csv").await.unwrap();
    assert!(got == a || got == b, "one writer's whole object, not a mix");
    assert_eq!(count(&db, "SELECT count(*) FROM blobs").await, 1);
}

#[tokio::test]
async fn the_application_role_cannot_read_files() {
    let db = TestDb::new().await;
    store(&db).await.put("exports/t/j.csv", b"secret rows").await.unwrap();
    let app = db.connect_as("leadzone_app").await;
    assert!(app.execute_unprepared("SELECT * FROM blob_chunks").await.is_err());
    assert!(app.execute_unprepared("SELECT * FROM blobs").await.is_err());
}

#[tokio::test]
async fn folders_list_and_go_whole() {
    let db = TestDb::new().await;
    let store = store(&db).await;
    for key in [
        "imports/t1/a.csv",
        "imports/t1/b.csv",
        "imports/t2/a.csv",
        "imports/top.csv",
        "imports_x/t3/a.csv",
        "exports/t1/e.csv",
    ] {
        store.put(key, b"x").await.unwrap();
    }
    let mut names = store.folders("imports").await.unwrap();
    names.sort();
    assert_eq!(names, ["t1", "t2"], "folders only, under that folder only");
    assert_eq!(store.delete_folder("imports/t1").await.unwrap(), 2);
    assert_eq!(store.folders("imports").await.unwrap(), ["t2"]);
    assert!(store.get("exports/t1/e.csv").await.is_ok() && store.get("imports_x/t3/a.csv").await.is_ok());
    assert_eq!(store.delete_folder("imports/none").await.unwrap(), 0);
}
