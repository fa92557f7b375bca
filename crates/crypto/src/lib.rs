//! Cryptography adapters: Argon2id password hashing and random tokens stored as SHA-256.
//! Nothing here logs or returns a secret except to its caller.

pub mod secretbox;
pub mod totp;

pub use secretbox::AesGcmBox;
pub use totp::{RfcTotp, base32_decode, base32_encode, totp_code};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use leadzone_ports::security::{CryptoError, PasswordHasher, Tokens};
use ring::rand::{SecureRandom, SystemRandom};

/// Argon2id with OWASP's minimum parameters (m = 19 MiB, t = 2, p = 1). Hashing runs on the
/// blocking pool: it is deliberately slow and must not stall the async executor.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    /// Each hash takes 19 MiB and a core for tens of milliseconds: a flood of logins queues here
    /// instead of exhausting memory.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// A real hash of a random password, verified against on the unknown-email path.
    dummy: String,
}

impl Argon2Hasher {
    pub const MEMORY_KIB: u32 = 19 * 1024;
    pub const ITERATIONS: u32 = 2;
    pub const PARALLELISM: u32 = 1;

    /// # Errors
    /// Only if the parameters are refused by the argon2 crate (they are constants).
    pub fn new() -> Result<Self, CryptoError> {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, None)
            .map_err(|e| CryptoError(e.to_string()))?;
        let mut seed = [0u8; 32];
        SystemRandom::new().fill(&mut seed).map_err(|_| CryptoError("no randomness".into()))?;
        let dummy = hash_with(&params, &hex::encode(seed))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self { params, dummy, permits: std::sync::Arc::new(tokio::sync::Semaphore::new(cores * 2)) })
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> Result<String, CryptoError> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| CryptoError("no randomness".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CryptoError(e.to_string()))?;
    argon(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError(e.to_string()))
}

fn verify_with(params: &Params, password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon(params).verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[async_trait::async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let _permit = self.permits.acquire().await.map_err(|e| CryptoError(e.to_string()))?;
        let (params, password) = (self.params.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || hash_with(&params, &password))
            .await
            .map_err(|e| CryptoError(e.to_string()))?
    }

    async fn verify(&self, password: &str, phc: &str) -> Result<bool, CryptoError> {
        let _permit = self.permits.acquire().await.map_err(|e| CryptoError(e.to_string()))?;
        let (params, password, phc) = (self.params.clone(), password.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || verify_with(&params, &password, &phc))
            .await
            .map_err(|e| CryptoError(e.to_string()))
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
