//! Who may do what: the role/permission matrix of api.md and the lead visibility rule.
//! Pure decisions; `leadzone-app` asks these before every use case touches data.

use crate::enums::Role;
use crate::ids::UserId;

macro_rules! permissions {
    ($($variant:ident => $s:literal),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $s),+ }
            }

            /// Parses an API-key scope, which uses the permission names.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions!(
    LeadsRead => "leads:read",
    LeadsWrite => "leads:write",
    ListsRead => "lists:read",
    ListsWrite => "lists:write",
    SearchesRun => "searches:run",
    WhatsAppSend => "whatsapp:send",
    ReportsRun => "reports:run",
    LeadsDelete => "leads:delete",
    LeadsBulk => "leads:bulk",
    LeadsImport => "leads:import",
    LeadsExport => "leads:export",
    WhatsAppBulk => "whatsapp:bulk",
    TemplatesManage => "templates:manage",
    TeamManage => "team:manage",
    ApiKeysManage => "api_keys:manage",
    IntegrationsManage => "integrations:manage",
    AuditRead => "audit:read",
    TenantManage => "tenant:manage",
    BillingRead => "billing:read",
    BillingManage => "billing:manage",
    TenantDelete => "tenant:delete",
);

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose leads a role reaches with its lead permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadScope {
    /// Every lead of the tenant (OWNER, ADMIN).
    All,
    /// Own leads and those of the members this user manages (MANAGER).
    Team,
    /// Only own leads (SALES).
    Own,
}

impl Role {
    /// Whether this role holds the permission at all (api.md, Roles and permissions).
    pub fn has(self, p: Permission) -> bool {
        use Permission::*;
        match p {
            LeadsRead | LeadsWrite | ListsRead | ListsWrite | SearchesRun | WhatsAppSend | ReportsRun => true,
            LeadsDelete | LeadsBulk | LeadsImport | LeadsExport | WhatsAppBulk => {
                matches!(self, Role::Owner | Role::Admin | Role::Manager)
            }
            TemplatesManage | TeamManage | ApiKeysManage | IntegrationsManage | AuditRead | TenantManage
            | BillingRead => matches!(self, Role::Owner | Role::Admin),
            BillingManage | TenantDelete => self == Role::Owner,
        }
    }

    /// Every permission this role holds, in a stable order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.iter().copied().filter(|p| self.has(*p)).collect()
    }

    pub const fn lead_scope(self) -> LeadScope {
        match self {
            Role::Owner | Role::Admin => LeadScope::All,
            Role::Manager => LeadScope::Team,
            Role::Sales => LeadScope::Own,
        }
    }
}

/// The permissions an API key acts with: its scopes intersected with what role ADMIN holds.
pub fn api_key_permissions(scopes: &[Permission]) -> Vec<Permission> {
    let mut out: Vec<Permission> = scopes.iter().copied().filter(|p| Role::Admin.has(*p)).collect();
    out.sort();
    out.dedup();
    out
}

/// The resolved set of leads an actor may see, ready to be turned into a query filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadVisibility {
    All,
    /// Leads assigned to or created by one of these users.
    OwnedBy(Vec<UserId>),
}

impl LeadVisibility {
    /// `team` lists the members whose `managerId` is `actor`; it is only read for a MANAGER.
    pub fn for_actor(role: Role, actor: UserId, team: &[UserId]) -> Self {
        match role.lead_scope() {
            LeadScope::All => Self::All,
            LeadScope::Own => Self::OwnedBy(vec![actor]),
            LeadScope::Team => {
                let mut users = vec![actor];
                users.extend(team.iter().copied().filter(|u| *u != actor));
                Self::OwnedBy(users)
            }
        }
    }

    /// Whether a lead with this creator and assignee is visible.
    pub fn allows(&self, created_by: UserId, assigned_to: Option<UserId>) -> bool {
        match self {
            Self::All => true,
            Self::OwnedBy(users) => users.contains(&created_by) || assigned_to.is_some_and(|a| users.contains(&a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn matrix_matches_the_contract() {
        use Permission::*;
        let expect = |p: Permission, owner, admin, manager, sales| {
            assert_eq!(
                [Role::Owner.has(p), Role::Admin.has(p), Role::Manager.has(p), Role::Sales.has(p)],
                [owner, admin, manager, sales],
                "{p}"
            );
        };
        for p in [LeadsRead, LeadsWrite, ListsRead, ListsWrite, SearchesRun, WhatsAppSend, ReportsRun] {
            expect(p, true, true, true, true);
        }
        for p in [LeadsDelete, LeadsBulk, LeadsImport, LeadsExport, WhatsAppBulk] {
            expect(p, true, true, true, false);
        }
        for p in [TemplatesManage, TeamManage, ApiKeysManage, IntegrationsManage, AuditRead, TenantManage, BillingRead]
        {
            expect(p, true, true, false, false);
        }
        for p in [BillingManage, TenantDelete] {
            expect(p, true, false, false, false);
        }
        assert_eq!(Permission::ALL.len(), 21);
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Permission::parse("leads:everything"), None);
    }

    #[test]
    fn api_keys_never_exceed_admin() {
        let perms = api_key_permissions(&[Permission::LeadsRead, Permission::BillingManage, Permission::LeadsRead]);
        assert_eq!(perms, vec![Permission::LeadsRead]);
    }

    #[test]
    fn owners_and_admins_see_everything() {
        for role in [Role::Owner, Role::Admin] {
            let v = LeadVisibility::for_actor(role, user(1), &[]);
            assert!(v.allows(user(9), None));
        }
    }

    #[test]
    fn sales_see_only_leads_they_created_or_hold() {
        let v = LeadVisibility::for_actor(Role::Sales, user(1), &[user(2)]);
        assert!(v.allows(user(1), None));
        assert!(v.allows(user(9), Some(user(1))));
        assert!(!v.allows(user(2), None), "a SALES user never sees a teammate's lead");
        assert!(!v.allows(user(9), Some(user(2))));
    }

    #[test]
    fn managers_see_own_and_team() {
        let v = LeadVisibility::for_actor(Role::Manager, user(1), &[user(2), user(3)]);
        assert!(v.allows(user(1), None));
        assert!(v.allows(user(2), None));
        assert!(v.allows(user(9), Some(user(3))));
        assert!(!v.allows(user(4), Some(user(5))));
        assert!(!v.allows(user(4), None));
    }
}
