//! The blob stores behind `leadzone_ports::blobs::BlobStore` (the PostgreSQL one lives in
//! `leadzone-postgres`): S3-compatible object storage for installations of several machines, and a
//! local folder for development and single-process use.

pub mod local;
pub mod s3;

/// The one rule for keys, shared by every store: relative paths of safe characters, so a key can
/// neither escape a folder nor a bucket prefix.
pub fn key_is_safe(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

pub(crate) fn unsafe_key(key: &str) -> leadzone_ports::RepoError {
    leadzone_ports::RepoError::Other(format!("unsafe blob key {key:?}"))
}
