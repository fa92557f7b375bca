//! The closed sets of the data model. Each has one wire spelling (UPPER_SNAKE as stored and sent)
//! and parses strictly: an unknown value is an error, never a default.

use crate::DomainError;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $( #[serde(rename = $s)] $variant ),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(DomainError::UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

pub(crate) use string_enum;

string_enum!(LeadStatus {
    New => "NEW",
    Prospected => "PROSPECTED",
    Contacted => "CONTACTED",
    Qualified => "QUALIFIED",
    Lost => "LOST",
});

string_enum!(
    /// A member's role inside one tenant.
    Role {
        Owner => "OWNER",
        Admin => "ADMIN",
        Manager => "MANAGER",
        Sales => "SALES",
    }
);

string_enum!(MembershipStatus { Active => "ACTIVE", Suspended => "SUSPENDED" });

string_enum!(TenantStatus {
    PendingVerification => "PENDING_VERIFICATION",
    Active => "ACTIVE",
    Suspended => "SUSPENDED",
    Deleted => "DELETED",
});

string_enum!(InviteStatus { Pending => "PENDING", Accepted => "ACCEPTED", Expired => "EXPIRED", Revoked => "REVOKED" });

string_enum!(SubscriptionStatus {
    Trialing => "TRIALING",
    Active => "ACTIVE",
    PastDue => "PAST_DUE",
    Cancelled => "CANCELLED",
    Unpaid => "UNPAID",
});

string_enum!(BillingCycle { Monthly => "MONTHLY", Yearly => "YEARLY" });

string_enum!(UsageMetric { Seats => "seats", Leads => "leads", Searches => "searches", Messages => "messages" });

string_enum!(JobType {
    Search => "SEARCH",
    Survey => "SURVEY",
    WhatsApp => "WHATSAPP",
    WhatsAppBulk => "WHATSAPP_BULK",
    Import => "IMPORT",
    Export => "EXPORT",
    Reveal => "REVEAL",
    Report => "REPORT",
    Sync => "SYNC",
});

string_enum!(JobStatus { Pending => "PENDING", Running => "RUNNING", Success => "SUCCESS", Failed => "FAILED", Cancelled => "CANCELLED" });

impl JobStatus {
    /// Finished jobs never run again and are never rescued.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
}

string_enum!(LogLevel { Debug => "DEBUG", Info => "INFO", Warn => "WARN", Error => "ERROR" });

string_enum!(JobEntityType { Lead => "lead", List => "list", Tenant => "tenant" });

string_enum!(EvidenceType {
    Website => "WEBSITE",
    Social => "SOCIAL",
    News => "NEWS",
    Reviews => "REVIEWS",
    Government => "GOVERNMENT",
    Financial => "FINANCIAL",
    Custom => "CUSTOM",
});

string_enum!(Confidence { High => "HIGH", Medium => "MEDIUM", Low => "LOW" });

string_enum!(ReportGeneratedBy { Ai => "AI", Manual => "MANUAL" });

string_enum!(ActivityType {
    Created => "CREATED",
    Survey => "SURVEY",
    WhatsApp => "WHATSAPP",
    StatusChange => "STATUS_CHANGE",
    ListAdd => "LIST_ADD",
    ListRemove => "LIST_REMOVE",
    Note => "NOTE",
    Call => "CALL",
    Meeting => "MEETING",
    Assigned => "ASSIGNED",
});

impl ActivityType {
    /// Recording one of these counts as contacting the lead (`lastContactedAt`).
    pub const fn is_contact(self) -> bool {
        matches!(self, Self::Call | Self::Meeting | Self::WhatsApp)
    }

    /// Types a user may record by hand; the rest are written by the system.
    pub const fn is_manual(self) -> bool {
        matches!(self, Self::Note | Self::Call | Self::Meeting)
    }
}

string_enum!(WhatsAppStatus { Pending => "PENDING", Sent => "SENT", Delivered => "DELIVERED", Read => "READ", Failed => "FAILED" });

impl WhatsAppStatus {
    /// Order of progress: a status callback may only move a message forward.
    pub const fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed => 4,
        }
    }
}

// A WhatsApp template's review status at Meta.
string_enum!(TemplateStatus {
    Pending => "PENDING",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Paused => "PAUSED",
    Disabled => "DISABLED",
});

// A WhatsApp template's category (Meta prices and reviews by it; AUTHENTICATION templates are not
// what a sales team sends).
string_enum!(TemplateCategory { Marketing => "MARKETING", Utility => "UTILITY" });

string_enum!(IntegrationType {
    WhatsApp => "WHATSAPP",
    Salesforce => "SALESFORCE",
    HubSpot => "HUBSPOT",
    Slack => "SLACK",
    Notion => "NOTION",
    GoogleMaps => "GOOGLE_MAPS",
});

string_enum!(IntegrationStatus { Connected => "CONNECTED", Disconnected => "DISCONNECTED", Error => "ERROR", Pending => "PENDING" });

string_enum!(AuditEventType {
    AuthLogin => "AUTH_LOGIN",
    AuthLogout => "AUTH_LOGOUT",
    AuthFailedLogin => "AUTH_FAILED_LOGIN",
    AuthPasswordChange => "AUTH_PASSWORD_CHANGE",
    Auth2faEnable => "AUTH_2FA_ENABLE",
    Auth2faDisable => "AUTH_2FA_DISABLE",
    TeamInviteSent => "TEAM_INVITE_SENT",
    TeamInviteAccepted => "TEAM_INVITE_ACCEPTED",
    TeamMemberRemoved => "TEAM_MEMBER_REMOVED",
    TeamRoleChanged => "TEAM_ROLE_CHANGED",
    LeadCreated => "LEAD_CREATED",
    LeadUpdated => "LEAD_UPDATED",
    LeadDeleted => "LEAD_DELETED",
    LeadBulkDelete => "LEAD_BULK_DELETE",
    LeadExported => "LEAD_EXPORTED",
    LeadImported => "LEAD_IMPORTED",
    LeadSearched => "LEAD_SEARCHED",
    WhatsAppMessageSent => "WHATSAPP_MESSAGE_SENT",
    WhatsAppBulkSent => "WHATSAPP_BULK_SENT",
    WhatsAppOptedOut => "WHATSAPP_OPTED_OUT",
    WhatsAppOptedIn => "WHATSAPP_OPTED_IN",
    WebhookDisabled => "WEBHOOK_DISABLED",
    ApiKeyCreated => "API_KEY_CREATED",
    ApiKeyRevoked => "API_KEY_REVOKED",
    IntegrationConnected => "INTEGRATION_CONNECTED",
    IntegrationDisconnected => "INTEGRATION_DISCONNECTED",
    IntegrationSynced => "INTEGRATION_SYNCED",
    SubscriptionCreated => "SUBSCRIPTION_CREATED",
    SubscriptionUpgraded => "SUBSCRIPTION_UPGRADED",
    SubscriptionDowngraded => "SUBSCRIPTION_DOWNGRADED",
    SubscriptionCancelled => "SUBSCRIPTION_CANCELLED",
    PaymentSucceeded => "PAYMENT_SUCCEEDED",
    PaymentFailed => "PAYMENT_FAILED",
    SettingsUpdated => "SETTINGS_UPDATED",
    OrgSettingsUpdated => "ORG_SETTINGS_UPDATED",
});

string_enum!(Language { Ar => "ar", En => "en" });

// What an audit row is about (`audit_logs.entity_type`).
string_enum!(AuditEntityType {
    ApiKey => "api_key",
    Integration => "integration",
    Invite => "invite",
    Job => "job",
    Lead => "lead",
    Membership => "membership",
    Subscription => "subscription",
    Tenant => "tenant",
    User => "user",
    WhatsAppMessage => "whatsapp_message",
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_variant_round_trips_through_its_wire_spelling() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::from_str(s.as_str()).unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for t in JobType::ALL {
            assert_eq!(JobType::from_str(t.as_str()).unwrap(), *t);
        }
        for e in AuditEventType::ALL {
            assert_eq!(AuditEventType::from_str(e.as_str()).unwrap(), *e);
        }
        for e in AuditEntityType::ALL {
            assert_eq!(AuditEntityType::from_str(e.as_str()).unwrap(), *e);
            assert_eq!(e.as_str(), e.as_str().to_lowercase(), "entity types are lower snake case");
        }
        assert_eq!(AuditEventType::ALL.len(), 35);
        assert_eq!(ActivityType::ALL.len(), 10);
    }

    #[test]
    fn parsing_is_strict() {
        assert!(LeadStatus::from_str("new").is_err());
        assert!(Role::from_str("ROOT").is_err());
        assert!(serde_json::from_str::<Role>("\"owner\"").is_err());
        assert_eq!(UsageMetric::from_str("leads").unwrap(), UsageMetric::Leads);
    }

    #[test]
    fn finished_job_statuses() {
        assert!(!JobStatus::Pending.is_finished());
        assert!(!JobStatus::Running.is_finished());
        assert!(JobStatus::Success.is_finished());
        assert!(JobStatus::Failed.is_finished());
        assert!(JobStatus::Cancelled.is_finished());
    }

    #[test]
    fn contact_activities() {
        let contact: Vec<_> = ActivityType::ALL.iter().filter(|t| t.is_contact()).collect();
        assert_eq!(contact, [&ActivityType::WhatsApp, &ActivityType::Call, &ActivityType::Meeting]);
        assert!(ActivityType::Note.is_manual() && !ActivityType::Created.is_manual());
    }
}
