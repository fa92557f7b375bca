//! The S3 blob store against a real S3-compatible server (`moto_server`, started per test by the
//! testkit): whole and streamed (multipart) writes, ranged reads, deletes, the port's NotFound, and
//! credentials that appear in no log line and no error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use leadzone_ports::RepoError;
use leadzone_ports::blobs::{BlobStore, ByteStream};
use leadzone_providers::{S3BlobStore, S3Settings};
use leadzone_testkit::s3::{MotoServer, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY};
use secrecy::SecretString;
use support::capture_logs;

fn settings(server: &MotoServer, bucket: &str, prefix: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.into(),
        prefix: prefix.into(),
        endpoint: Some(server.endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some(S3_ACCESS_KEY_ID.into()),
        secret_access_key: Some(SecretString::from(S3_SECRET_ACCESS_KEY)),
        // Sent on every request (x-amz-security-token), so a stack that logged headers would show it.
        session_token: Some(SecretString::from(SESSION_TOKEN)),
    }
}

const SESSION_TOKEN: &str = "FwoGZXIvYXdzEJr-leadzone-session-token-EXAMPLE";

fn pieces(data: &[u8], size: usize) -> ByteStream {
    let parts: Vec<Result<Vec<u8>, RepoError>> = data.chunks(size).map(|c| Ok(c.to_vec())).collect();
    Box::pin(futures::stream::iter(parts))
}

/// Bytes that differ at every offset, so a wrong range is seen.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn put_get_ranges_multipart_and_delete_against_a_real_s3_server() {
    let (logs, _guard) = capture_logs();
    let server = MotoServer::start().await;
    server.create_bucket("leadzone-files").await;
    let store = S3BlobStore::new(&settings(&server, "leadzone-files", "prod/eu")).unwrap();

    // A small object, whole.
    store.put("exports/t1/j1.csv", "name,city\nشركة,الرياض\n".as_bytes()).await.unwrap();
    assert_eq!(store.get("exports/t1/j1.csv").await.unwrap(), "name,city\nشركة,الرياض\n".as_bytes());
    // Ranged reads: inside, across the end, at and past the end.
    assert_eq!(store.read_at("exports/t1/j1.csv", 5, 4).await.unwrap(), b"city");
    assert_eq!(store.read_at("exports/t1/j1.csv", 10, 1000).await.unwrap(), "شركة,الرياض\n".as_bytes());
    let len = "name,city\nشركة,الرياض\n".len() as u64;
    assert_eq!(store.read_at("exports/t1/j1.csv", len, 10).await.unwrap(), b"");
    assert_eq!(store.read_at("exports/t1/j1.csv", len + 100, 10).await.unwrap(), b"");

    // A streamed object larger than a part goes up as a multipart upload, in 1 MiB pieces.
    let big = pattern(19 * 1024 * 1024 + 12_345);
    let written = store.put_stream("imports/t1/u1.csv", pieces(&big, 1024 * 1024)).await.unwrap();
    assert_eq!(written, big.len() as u64);
    assert_eq!(store.get("imports/t1/u1.csv").await.unwrap(), big);
    let at = 8 * 1024 * 1024 - 3;
    assert_eq!(store.read_at("imports/t1/u1.csv", at as u64, 10).await.unwrap(), big[at..at + 10]);
    // A small stream is one PUT, and an empty one an empty object (not a missing one).
    assert_eq!(store.put_stream("imports/t1/small.csv", pieces(b"a,b\n", 2)).await.unwrap(), 4);
    assert_eq!(store.get("imports/t1/small.csv").await.unwrap(), b"a,b\n");
    assert_eq!(store.put_stream("imports/t1/empty.csv", pieces(b"", 1)).await.unwrap(), 0);
    assert_eq!(store.get("imports/t1/empty.csv").await.unwrap(), b"");

    // A stream that fails half way (the client went away) leaves the earlier object as it was.
    let mut failing: Vec<Result<Vec<u8>, RepoError>> = big.chunks(1024 * 1024).map(|c| Ok(c.to_vec())).collect();
    failing.truncate(12);
    failing.push(Err(RepoError::Other("the upload broke off".into())));
    let err = store.put_stream("exports/t1/j1.csv", Box::pin(futures::stream::iter(failing))).await.unwrap_err();
    assert_eq!(err, RepoError::Other("the upload broke off".into()));
    assert_eq!(store.get("exports/t1/j1.csv").await.unwrap(), "name,city\nشركة,الرياض\n".as_bytes());

    // Keys live under the prefix: a store without it does not see them.
    let bare = S3BlobStore::new(&settings(&server, "leadzone-files", "")).unwrap();
    assert_eq!(bare.get("exports/t1/j1.csv").await, Err(RepoError::NotFound));
    assert_eq!(bare.get("prod/eu/exports/t1/j1.csv").await.unwrap().len() as u64, len);

    // Missing keys are the port's NotFound; deleting one is not an error.
    assert_eq!(store.get("exports/t1/missing.csv").await, Err(RepoError::NotFound));
    assert_eq!(store.read_at("exports/t1/missing.csv", 0, 10).await, Err(RepoError::NotFound));
    store.delete("imports/t1/u1.csv").await.unwrap();
    assert_eq!(store.get("imports/t1/u1.csv").await, Err(RepoError::NotFound));
    store.delete("imports/t1/u1.csv").await.unwrap();

    // Folders: the names under one, each once; a whole folder goes at once.
    let mut names = store.folders("imports").await.unwrap();
    names.sort();
    assert_eq!(names, ["t1"]);
    store.put("imports/t2/a.csv", b"a").await.unwrap();
    store.put("imports/t2/b.csv", b"b").await.unwrap();
    let mut names = store.folders("imports").await.unwrap();
    names.sort();
    assert_eq!(names, ["t1", "t2"]);
    assert_eq!(store.delete_folder("imports/t2").await.unwrap(), 2);
    assert_eq!(store.folders("imports").await.unwrap(), ["t1"]);
    assert_eq!(store.get("imports/t2/a.csv").await, Err(RepoError::NotFound));
    assert!(store.get("imports/t1/small.csv").await.is_ok(), "the other folder stays");

    // Keys that could leave the prefix are refused before any request.
    for bad in ["../x", "/abs", "a//b", ""] {
        assert!(store.put(bad, b"x").await.is_err(), "{bad:?}");
    }

    // A bucket that does not exist: an error that names neither credential.
    let missing = S3BlobStore::new(&settings(&server, "no-such-bucket", "")).unwrap();
    let err = missing.put("a.csv", b"x").await.unwrap_err().to_string();
    assert!(!err.contains(S3_SECRET_ACCESS_KEY), "{err}");

    let logged = logs.contents();
    assert!(logged.contains("127.0.0.1"), "the HTTP stack's logs were captured: {logged}");
    for secret in [S3_SECRET_ACCESS_KEY, SESSION_TOKEN] {
        assert!(!logged.contains(secret), "a credential was logged");
        assert!(!format!("{store:?}").contains(secret));
    }
}

#[tokio::test]
async fn a_closed_port_is_an_error_that_shows_no_credential() {
    let (logs, _guard) = capture_logs();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut s = S3Settings::from_url("s3://leadzone-files/p").unwrap();
    s.endpoint = Some(format!("http://127.0.0.1:{port}"));
    s.region = Some("us-east-1".into());
    s.access_key_id = Some(S3_ACCESS_KEY_ID.into());
    s.secret_access_key = Some(SecretString::from(S3_SECRET_ACCESS_KEY));
    let store = S3BlobStore::new(&s).unwrap();
    let err = store.get("a.csv").await.unwrap_err();
    assert!(matches!(&err, RepoError::Other(m) if m.starts_with("object storage")), "{err:?}");
    assert!(!err.to_string().contains(S3_SECRET_ACCESS_KEY));
    assert!(!logs.contents().contains(S3_SECRET_ACCESS_KEY));
}

/// Real S3 answers a bad signature with a body that echoes the access key id, the string to sign
/// and the canonical request (session token included); object_store quotes the body in its
/// error. The port's error, and the logs, keep none of it.
#[tokio::test]
async fn an_error_body_that_echoes_the_signature_is_redacted() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
         <Message>The request signature we calculated does not match the signature you provided.</Message>\
         <AWSAccessKeyId>{S3_ACCESS_KEY_ID}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20260101T000000Z</StringToSign>\
         <SignatureProvided>0f1e2d</SignatureProvided>\
         <CanonicalRequest>PUT\n/leadzone-files/a.csv\n\nhost:s3\nx-amz-security-token:{SESSION_TOKEN}\n</CanonicalRequest>\
         <RequestId>4442587FB7D0A2F9</RequestId></Error>"
    );
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403).insert_header("content-type", "application/xml").set_body_string(body))
        .mount(&server)
        .await;
    let mut s = S3Settings::from_url("s3://leadzone-files").unwrap();
    s.endpoint = Some(server.uri());
    s.region = Some("us-east-1".into());
    s.access_key_id = Some(S3_ACCESS_KEY_ID.into());
    s.secret_access_key = Some(SecretString::from(S3_SECRET_ACCESS_KEY));
    s.session_token = Some(SecretString::from(SESSION_TOKEN));
    let store = S3BlobStore::new(&s).unwrap();
    let err = store.put("a.csv", b"x").await.unwrap_err().to_string();
    assert!(err.contains("SignatureDoesNotMatch"), "the reason stays: {err}");
    for secret in [S3_ACCESS_KEY_ID, SESSION_TOKEN, "0f1e2d", S3_SECRET_ACCESS_KEY] {
        assert!(!err.contains(secret), "{secret} in {err}");
        assert!(!logs.contents().contains(secret), "{secret} logged");
    }
}
