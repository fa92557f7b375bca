//! TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and the base32 its secrets travel in.

use leadzone_ports::security::Totp;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

const STEP: i64 = 30;
const DIGITS: u32 = 6;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET.get(((buffer >> bits) & 31) as usize).copied().unwrap_or(b'A')));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET.get(((buffer << (5 - bits)) & 31) as usize).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and padding ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET.iter().position(|&a| char::from(a) == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The code for a secret at a unix time (seconds).
pub fn totp_code(secret: &[u8], unix_time: i64) -> String {
    let counter = unix_time.div_euclid(STEP) as u64;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = mac.last().map(|b| usize::from(b & 0x0f)).unwrap_or(0);
    let window: [u8; 4] = mac.get(offset..offset + 4).and_then(|w| w.try_into().ok()).unwrap_or([0; 4]);
    let word = u32::from_be_bytes(window) & 0x7fff_ffff;
    format!("{:0width$}", word % 10u32.pow(DIGITS), width = DIGITS as usize)
}

#[derive(Debug, Clone)]
pub struct RfcTotp {
    issuer: String,
}

impl RfcTotp {
    pub fn new(issuer: &str) -> Self {
        Self { issuer: issuer.to_owned() }
    }
}

impl Totp for RfcTotp {
    fn new_secret(&self) -> Vec<u8> {
        let mut secret = vec![0u8; 20];
        if SystemRandom::new().fill(&mut secret).is_err() {
            std::process::abort();
        }
        secret
    }

    fn encode_secret(&self, secret: &[u8]) -> String {
        base32_encode(secret)
    }

    /// Accepts the current step and one on either side (clock drift), comparing in constant time
    /// (all three are always compared); returns the step the code belongs to.
    fn verify(&self, secret: &[u8], code: &str, unix_time: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        [-STEP, 0, STEP].iter().fold(None, |found, drift| {
            let at = unix_time + drift;
            let expected = totp_code(secret, at);
            if ring_constant_eq(expected.as_bytes(), code.as_bytes()) { Some(at.div_euclid(STEP)) } else { found }
        })
    }

    fn otpauth_url(&self, secret: &[u8], account: &str) -> String {
        let label: String = url_escape(&format!("{}:{}", self.issuer, account));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
            base32_encode(secret),
            url_escape(&self.issuer)
        )
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Constant-time equality of two byte strings.
pub fn ring_constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last 6 digits.
        let secret = b"12345678901234567890";
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(totp_code(secret, t), code, "t={t}");
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_only() {
        let totp = RfcTotp::new("Leadzone");
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let step = now / 30;
        assert_eq!(totp.verify(secret, &totp_code(secret, now), now), Some(step));
        assert_eq!(totp.verify(secret, &totp_code(secret, now - 30), now), Some(step - 1));
        assert_eq!(totp.verify(secret, &totp_code(secret, now + 30), now), Some(step + 1));
        assert_eq!(totp.verify(secret, &totp_code(secret, now - 90), now), None);
        assert_eq!(totp.verify(secret, "12345", now), None);
        assert_eq!(totp.verify(secret, "abcdef", now), None);
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert!(base32_decode("1!").is_none());
        let url = RfcTotp::new("Leadzone").otpauth_url(b"foobar", "sara@example.sa");
        assert_eq!(
            url,
            "otpauth://totp/Leadzone%3Asara@example.sa?secret=MZXW6YTBOI&issuer=Leadzone&algorithm=SHA1&digits=6&period=30"
        );
    }
}
