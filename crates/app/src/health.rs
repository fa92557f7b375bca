//! Readiness: the service is ready when its database answers.

use crate::{App, AppError};

impl App {
    pub async fn ready(&self) -> Result<(), AppError> {
        self.platform.ping().await.map_err(AppError::from)
    }
}
