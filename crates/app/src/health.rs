//! Readiness: the service is ready when its database answers.

use crate::AppError;

crate::service! {
    /// Readiness.
    Health { ports: [platform] }
}

impl Health {
    pub async fn ready(&self) -> Result<(), AppError> {
        self.platform.ping().await.map_err(AppError::from)
    }
}
