//! Feature flags: which features a tenant has. Pure: the caller supplies the flag, the plan's
//! features and the tenant's override.
//!
//! Order (api.md): an override that has not expired wins; then the plan's `features`; then the
//! global flag — `enabled` and the tenant's stable bucket below `rolloutPercentage`. The bucket is
//! MurmurHash3 (x86, 32-bit, seed 0) of `"<flag key>:<tenant id>"` modulo 100, as Unleash does for
//! gradual rollouts: the same tenant always lands in the same bucket, and raising the percentage
//! only ever adds tenants.

use crate::entities::{FeatureFlag, TenantFeature};
use crate::ids::TenantId;
use time::OffsetDateTime;

/// MurmurHash3 x86 32-bit.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    let mut k: u32 = 0;
    for (i, b) in tail.iter().enumerate() {
        k ^= u32::from(*b) << (8 * i);
    }
    if !tail.is_empty() {
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The tenant's stable rollout bucket for a flag, 0–99.
pub fn bucket(flag_key: &str, tenant: TenantId) -> u32 {
    murmur3_32(format!("{flag_key}:{tenant}").as_bytes(), 0) % 100
}

/// Whether `key` is on for `tenant`.
pub fn is_enabled(
    key: &str,
    tenant: TenantId,
    now: OffsetDateTime,
    override_: Option<&TenantFeature>,
    plan_features: &[String],
    flag: Option<&FeatureFlag>,
) -> bool {
    if let Some(o) = override_
        && o.expires_at.is_none_or(|e| e > now)
    {
        return o.enabled;
    }
    if plan_features.iter().any(|f| f == key) {
        return true;
    }
    match flag {
        Some(f) => f.enabled && (bucket(key, tenant) as i32) < f.rollout_percentage.clamp(0, 100),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(pct: i32) -> FeatureFlag {
        FeatureFlag {
            id: uuid::Uuid::nil().into(),
            key: "new_search".into(),
            name: "New search".into(),
            description: None,
            enabled: true,
            rollout_percentage: pct,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn tenants(n: u128) -> Vec<TenantId> {
        (0..n)
            .map(|i| TenantId::from_uuid(uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + i * 7919)))
            .collect()
    }

    #[test]
    fn murmur3_matches_known_vectors() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0), 0x2e4f_f723);
        assert_eq!(murmur3_32(&[0x21, 0x43, 0x65, 0x87], 0), 0xf55b_516b);
    }

    #[test]
    fn a_thirty_percent_rollout_enables_thirty_percent_and_never_changes_its_mind() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let all = tenants(1000);
        let on: Vec<&TenantId> =
            all.iter().filter(|t| is_enabled("new_search", **t, now, None, &[], Some(&flag(30)))).collect();
        assert!((250..=350).contains(&on.len()), "{} of 1000", on.len());
        for t in &all {
            let first = is_enabled("new_search", *t, now, None, &[], Some(&flag(30)));
            for _ in 0..3 {
                assert_eq!(is_enabled("new_search", *t, now, None, &[], Some(&flag(30))), first);
            }
        }
    }

    #[test]
    fn raising_the_percentage_never_turns_a_tenant_off() {
        let now = OffsetDateTime::UNIX_EPOCH;
        for t in tenants(1000) {
            let mut was_on = false;
            for pct in (0..=100).step_by(5) {
                let on = is_enabled("new_search", t, now, None, &[], Some(&flag(pct)));
                assert!(on || !was_on, "turned off when raising to {pct}%");
                was_on = on;
            }
            assert!(was_on, "100% is everyone");
        }
    }

    #[test]
    fn buckets_spread_evenly() {
        let mut counts = [0u32; 10];
        for t in tenants(10_000) {
            counts[(bucket("x", t) / 10) as usize] += 1;
        }
        for c in counts {
            assert!((850..=1150).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn overrides_win_until_they_expire_then_plan_then_flag() {
        let t = tenants(1)[0];
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10);
        let mut o = TenantFeature {
            id: uuid::Uuid::nil().into(),
            tenant_id: t,
            feature_key: "export".into(),
            enabled: false,
            expires_at: Some(now + time::Duration::days(1)),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let plan = vec!["export".to_owned()];
        assert!(!is_enabled("export", t, now, Some(&o), &plan, None), "a live override wins over the plan");
        o.expires_at = Some(now - time::Duration::days(1));
        assert!(is_enabled("export", t, now, Some(&o), &plan, None), "an expired override is ignored");
        assert!(!is_enabled("export", t, now, None, &[], None), "nothing grants it");
        let mut off = flag(100);
        off.enabled = false;
        assert!(!is_enabled("new_search", t, now, None, &[], Some(&off)), "a disabled flag is off at any percentage");
    }
}
