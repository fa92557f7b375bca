//! Members and invites.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;

/// A member as the team page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    pub membership: Membership,
    pub email: String,
    pub name: String,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait MembershipRepo: Send + Sync {
    /// # Errors
    /// `Conflict` when the user is already a member.
    async fn insert(&self, membership: &Membership) -> Result<(), RepoError>;
    /// The membership of `user` in this tenant.
    ///
    /// # Errors
    /// `NotFound` when the user is not a member.
    async fn get_by_user(&self, user: UserId) -> Result<Membership, RepoError>;
    /// Users whose `managerId` is `manager` (a MANAGER's team).
    async fn team_of(&self, manager: UserId) -> Result<Vec<UserId>, RepoError>;
    /// # Errors
    /// `NotFound` when no such membership exists in this tenant.
    async fn get(&self, id: MembershipId) -> Result<Membership, RepoError>;
    async fn list(&self) -> Result<Vec<MemberView>, RepoError>;
    async fn update(&self, membership: &Membership) -> Result<(), RepoError>;
    async fn delete(&self, id: MembershipId) -> Result<(), RepoError>;
    /// Active OWNERs, with their rows locked until the transaction ends, so that two concurrent
    /// demotions cannot both see "another owner remains".
    async fn lock_active_owners(&self) -> Result<Vec<MembershipId>, RepoError>;
    async fn count_active(&self) -> Result<i64, RepoError>;
    /// Clears `managerId` wherever it names `user`.
    async fn clear_manager(&self, user: UserId) -> Result<(), RepoError>;
    /// Whether a user with this email is a member already.
    async fn email_is_member(&self, email: &str) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait InviteRepo: Send + Sync {
    async fn insert(&self, invite: &Invite) -> Result<(), RepoError>;
    async fn list(&self) -> Result<Vec<Invite>, RepoError>;
    /// # Errors
    /// `NotFound` when no such invite exists in this tenant.
    async fn get(&self, id: InviteId) -> Result<Invite, RepoError>;
    /// Moves a PENDING invite to `status`; `false` when it was no longer pending (a race lost).
    async fn finish(
        &self,
        id: InviteId,
        status: leadzone_domain::enums::InviteStatus,
        at: time::OffsetDateTime,
    ) -> Result<bool, RepoError>;
    /// Pending invites that have not expired at `now`.
    async fn count_pending(&self, now: time::OffsetDateTime) -> Result<i64, RepoError>;
    async fn pending_for_email(&self, email: &str, now: time::OffsetDateTime) -> Result<bool, RepoError>;
}
