//! Readiness: the service is ready when its database answers.

use crate::AppError;
use std::sync::Arc;

/// Readiness.
///
/// Holds only the ports (and the other capabilities) its use cases reach.
#[derive(Clone)]
pub struct Health {
    pub platform: Arc<dyn leadzone_ports::platform::PlatformStore>,
}

impl Health {
    pub async fn ready(&self) -> Result<(), AppError> {
        self.platform.ping().await.map_err(AppError::from)
    }
}
