//! Cryptography adapters: Argon2id password hashing and random tokens stored as SHA-256.
//! Nothing here logs or returns a secret except to its caller.

pub mod secretbox;
pub mod totp;

pub use secretbox::AesGcmBox;
pub use totp::{RfcTotp, base32_decode, base32_encode, totp_code};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use leadzone_ports::security::{CryptoError, PasswordHasher, Tokens};
use ring::rand::{SecureRandom, SystemRandom};

/// Argon2id with OWASP's minimum parameters (m = 19 MiB, t = 2, p = 1). Hashing runs on the
/// blocking pool: it is deliberately slow and must not stall the async executor.
///
/// At most one hash per core runs at once (a flood of logins queues here, the cheapest defence
/// against it), each in one of a pool of 19 MiB working memories made once and reused. Allocating
/// that memory per hash, on whichever blocking thread ran it, left the allocator's per-thread
/// arenas holding it: `just bench-logins` measured 1.3 GB of RSS after 1,000 logins.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Working memories not in use (at most one per permit).
    memory: std::sync::Arc<std::sync::Mutex<Vec<Vec<argon2::Block>>>>,
    /// A real hash of a random password, verified against on the unknown-email path.
    dummy: String,
}

impl Argon2Hasher {
    pub const MEMORY_KIB: u32 = 19 * 1024;
    pub const ITERATIONS: u32 = 2;
    pub const PARALLELISM: u32 = 1;
    /// Bytes of a hash.
    const OUTPUT_LEN: usize = 32;

    /// # Errors
    /// Only if the parameters are refused by the argon2 crate (they are constants).
    pub fn new() -> Result<Self, CryptoError> {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, Some(Self::OUTPUT_LEN))
            .map_err(|e| CryptoError(e.to_string()))?;
        let mut seed = [0u8; 32];
        SystemRandom::new().fill(&mut seed).map_err(|_| CryptoError("no randomness".into()))?;
        let mut memory = vec![argon2::Block::default(); params.block_count()];
        let dummy = hash_with(&params, &hex::encode(seed), &mut memory)?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self {
            params,
            dummy,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
            memory: std::sync::Arc::new(std::sync::Mutex::new(vec![memory])),
        })
    }

    /// Runs `work` on the blocking pool with a working memory, once a permit is free.
    async fn with_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [argon2::Block]) -> T + Send + 'static,
    ) -> Result<T, CryptoError> {
        let _permit = self.permits.acquire().await.map_err(|e| CryptoError(e.to_string()))?;
        let pooled = self.memory.lock().ok().and_then(|mut free| free.pop());
        let blocks = self.params.block_count();
        let (memory, out) = tokio::task::spawn_blocking(move || {
            let mut memory = pooled.unwrap_or_else(|| vec![argon2::Block::default(); blocks]);
            let out = work(&mut memory);
            (memory, out)
        })
        .await
        .map_err(|e| CryptoError(e.to_string()))?;
        if let Ok(mut free) = self.memory.lock() {
            free.push(memory);
        }
        Ok(out)
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) computed in `memory`.
fn hash_with(params: &Params, password: &str, memory: &mut [argon2::Block]) -> Result<String, CryptoError> {
    let err = |e: &dyn std::fmt::Display| CryptoError(e.to_string());
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| CryptoError("no randomness".into()))?;
    let mut out = [0u8; Argon2Hasher::OUTPUT_LEN];
    argon(params).hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory).map_err(|e| err(&e))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params.try_into().map_err(|e: argon2::password_hash::Error| err(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory` when the hash was made
/// with the same parameters (else in memory of its own), compared in constant time.
fn verify_with(password: &str, phc: &str, memory: &mut [argon2::Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = if memory.len() == params.block_count() {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
    } else {
        argon.hash_password_into(password.as_bytes(), salt, &mut out)
    };
    computed.is_ok() && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

#[async_trait::async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let (params, password) = (self.params.clone(), password.to_owned());
        self.with_memory(move |memory| hash_with(&params, &password, memory)).await?
    }

    async fn verify(&self, password: &str, phc: &str) -> Result<bool, CryptoError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.with_memory(move |memory| verify_with(&password, &phc, memory)).await
    }

    async fn verify_dummy(&self, password: &str) -> bool {
        let dummy = self.dummy.clone();
        // The result is discarded: the work is the point.
        let _ = self.verify(password, &dummy).await;
        false
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 of a byte string (big-endian number), keeping leading zero bytes as '0's.
pub fn base62(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 62) as u8;
            carry /= 62;
        }
        while carry > 0 {
            digits.push((carry % 62) as u8);
            carry /= 62;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('0', zeros));
    out.extend(digits.iter().rev().map(|&d| char::from(BASE62.get(usize::from(d)).copied().unwrap_or(b'0'))));
    out
}

/// 32 random bytes: a new master key.
///
/// # Errors
/// When the OS random source fails.
pub fn random_key() -> Result<[u8; 32], CryptoError> {
    let mut key = [0u8; 32];
    SystemRandom::new().fill(&mut key).map_err(|_| CryptoError("no randomness".into()))?;
    Ok(key)
}

/// SHA-256 in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// 32 random bytes, base62-encoded, behind a prefix.
#[derive(Debug, Clone)]
pub struct RandomTokens {
    rng: SystemRandom,
}

impl RandomTokens {
    pub fn new() -> Self {
        Self { rng: SystemRandom::new() }
    }
}

struct Sha256Digest(ring::digest::Context);

impl leadzone_ports::security::ContentDigest for Sha256Digest {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> String {
        hex::encode(self.0.finish().as_ref())
    }
}

impl Default for RandomTokens {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokens for RandomTokens {
    fn generate(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 32];
        if self.rng.fill(&mut bytes).is_err() {
            // The OS random source failing is not recoverable; refusing to mint a weak token is.
            std::process::abort();
        }
        format!("{prefix}{}", base62(&bytes))
    }

    fn hash(&self, token: &str) -> String {
        sha256_hex(token.as_bytes())
    }

    fn generate_with_checksum(&self, prefix: &str) -> String {
        let body = self.generate(prefix);
        let check = checksum(&body);
        format!("{body}_{check}")
    }

    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data).as_ref().to_vec()
    }

    fn digest(&self) -> Box<dyn leadzone_ports::security::ContentDigest> {
        Box::new(Sha256Digest(ring::digest::Context::new(&ring::digest::SHA256)))
    }

    fn checksum_valid(&self, token: &str) -> bool {
        match token.rsplit_once('_') {
            Some((body, check)) => totp::ring_constant_eq(checksum(body).as_bytes(), check.as_bytes()),
            None => false,
        }
    }
}

/// Six base62 characters from the token's SHA-256: a leaked key can be recognised (and a typo
/// rejected) without a database lookup.
fn checksum(body: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
    let four = digest.as_ref().get(..4).unwrap_or(&[0; 4]);
    format!("{:0>6}", base62(four))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let h = Argon2Hasher::new().unwrap();
        let a = h.hash("correct horse battery").await.unwrap();
        let b = h.hash("correct horse battery").await.unwrap();
        assert_ne!(a, b, "fresh salt every time");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("correct horse battery", &a).await.unwrap());
        assert!(!h.verify("wrong horse battery", &a).await.unwrap());
        assert!(!h.verify("x", "not a phc string").await.unwrap());
        assert!(!h.verify_dummy("anything").await);
    }

    #[test]
    fn base62_matches_known_values() {
        assert_eq!(base62(&[]), "");
        assert_eq!(base62(&[61]), "z");
        assert_eq!(base62(&[62]), "10");
        assert_eq!(base62(&[0, 1]), "01");
        assert_eq!(base62(&[0xff, 0xff]), "H31");
    }

    /// Hashes made before the pooled memory (by the argon2 crate's own `hash_password`, other
    /// parameters included) still verify, and the crate's own verifier accepts ours.
    #[tokio::test]
    async fn pooled_hashes_are_the_standard_ones() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = Argon2Hasher::new().unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let standard = argon(&h.params).hash_password(b"kalimat sir", &salt).unwrap().to_string();
        assert!(h.verify("kalimat sir", &standard).await.unwrap());
        assert!(!h.verify("kalimat sirr", &standard).await.unwrap());
        let cheaper = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 1, 1, None).unwrap())
            .hash_password(b"kalimat sir", &salt)
            .unwrap()
            .to_string();
        assert!(h.verify("kalimat sir", &cheaper).await.unwrap(), "other parameters: memory of its own");
        let ours = h.hash("كلمة سر").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon(&h.params).verify_password("كلمة سر".as_bytes(), &parsed).is_ok());
        assert!(argon(&h.params).verify_password(b"other", &parsed).is_err());
    }

    /// Many checks at once share at most one working memory per core.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn working_memories_are_reused_not_made_per_hash() {
        let h = Argon2Hasher::new().unwrap();
        let phc = h.hash("p").await.unwrap();
        let checks: Vec<_> = (0..12)
            .map(|_| {
                let (h, phc) = (h.clone(), phc.clone());
                tokio::spawn(async move { h.verify("p", &phc).await.unwrap() })
            })
            .collect();
        for c in checks {
            assert!(c.await.unwrap());
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let pooled = h.memory.lock().unwrap().len();
        assert!((1..=cores).contains(&pooled), "{pooled} memories for {cores} cores");
    }

    #[test]
    fn a_digest_fed_in_pieces_equals_the_hash_of_the_whole() {
        let t = RandomTokens::new();
        let whole = "name,city\nشركة,الرياض\n";
        for split in [0, 1, 5, whole.len() - 1, whole.len()] {
            let mut d = t.digest();
            d.update(&whole.as_bytes()[..split]);
            d.update(&whole.as_bytes()[split..]);
            assert_eq!(d.finish(), t.hash(whole), "split at {split}");
        }
        let mut other = t.digest();
        other.update(b"name,city\n");
        assert_ne!(other.finish(), t.hash(whole));
    }

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let t = RandomTokens::new();
        let a = t.generate("lza_");
        assert!(a.starts_with("lza_") && a.len() >= 4 + 42, "{a}");
        assert_ne!(a, t.generate("lza_"));
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(t.hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
