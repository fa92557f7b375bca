//! Where a job's files live in the blob store. Every key is built here, from tenant and job ids
//! only: no request can name one. Downloads go through [`BlobRef`], which only the app can make
//! (after its access checks) and the HTTP layer can only read in chunks.

use crate::AppError;
use leadzone_domain::enums::JobType;
use leadzone_domain::ids::{JobId, TenantId};

/// Bytes per chunk of a download: one ranged read each (one PostgreSQL chunk, one S3 request).
pub const DOWNLOAD_CHUNK: usize = 1024 * 1024;

const IMPORTS: &str = "imports";
const EXPORTS: &str = "exports";

/// The folders that hold a folder per tenant: everything a tenant's jobs write.
pub(crate) const TENANT_AREAS: [&str; 2] = [IMPORTS, EXPORTS];

/// An import's uploaded file (written before its job exists, so named by an upload id).
pub(crate) fn import_upload_key(tenant: TenantId, upload: uuid::Uuid) -> String {
    format!("{IMPORTS}/{tenant}/{upload}.csv")
}

pub(crate) fn import_errors_key(tenant: TenantId, job: JobId) -> String {
    format!("{IMPORTS}/{tenant}/{job}-errors.csv")
}

pub(crate) fn export_key(tenant: TenantId, job: JobId) -> String {
    format!("{EXPORTS}/{tenant}/{job}.csv")
}

/// Every file a job owns, for retention. The upload's key comes from the job's input, and only
/// if it lies in the tenant's own import folder.
pub(crate) fn job_blob_keys(
    tenant: TenantId,
    job: JobId,
    kind: JobType,
    input: Option<&serde_json::Value>,
) -> Vec<String> {
    match kind {
        JobType::Import => {
            let mut keys = vec![import_errors_key(tenant, job)];
            if let Some(upload) = input.and_then(|i| i.get("blobKey")).and_then(|k| k.as_str())
                && upload.starts_with(&format!("{IMPORTS}/{tenant}/"))
            {
                keys.push(upload.to_owned());
            }
            keys
        }
        JobType::Export => vec![export_key(tenant, job)],
        JobType::Search
        | JobType::Survey
        | JobType::WhatsApp
        | JobType::WhatsAppBulk
        | JobType::Reveal
        | JobType::Report
        | JobType::Sync => Vec::new(),
    }
}

/// A stored file the caller may read (see `Files::read_file`).
#[derive(Debug, Clone)]
pub struct BlobRef(String);

impl BlobRef {
    pub(crate) fn new(key: String) -> Self {
        Self(key)
    }
}

crate::service! {
    /// Stored files a tenant may download.
    Files { ports: [blobs] }
}

impl Files {
    /// Up to `max` bytes of a file from `offset`; empty at the end.
    pub async fn read_file(&self, file: &BlobRef, offset: u64, max: usize) -> Result<Vec<u8>, AppError> {
        Ok(self.blobs.read_at(&file.0, offset, max).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_owns_only_files_under_its_tenant() {
        let (tenant, other): (TenantId, TenantId) = (uuid::Uuid::from_u128(1).into(), uuid::Uuid::from_u128(2).into());
        let job: JobId = uuid::Uuid::from_u128(3).into();
        let own = import_upload_key(tenant, uuid::Uuid::from_u128(4));
        let keys = job_blob_keys(tenant, job, JobType::Import, Some(&serde_json::json!({"blobKey": own})));
        assert_eq!(keys, vec![import_errors_key(tenant, job), own]);
        let foreign = import_upload_key(other, uuid::Uuid::from_u128(4));
        let keys = job_blob_keys(tenant, job, JobType::Import, Some(&serde_json::json!({"blobKey": foreign})));
        assert_eq!(keys, vec![import_errors_key(tenant, job)], "another tenant's file is never touched");
        assert_eq!(job_blob_keys(tenant, job, JobType::Export, None), vec![export_key(tenant, job)]);
        assert!(job_blob_keys(tenant, job, JobType::Sync, None).is_empty());
    }
}
