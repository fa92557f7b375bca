//! AES-256-GCM secret box with key ids, for secrets the server must read back (TOTP secrets,
//! integration credentials). Sealed format: key id (4 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag.
//! Several keys may be loaded to rotate: the first seals, any opens what it sealed.

use leadzone_ports::security::{CryptoError, SecretBox};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const KEY_ID_LEN: usize = 4;

pub struct AesGcmBox {
    keys: Vec<([u8; KEY_ID_LEN], LessSafeKey)>,
    rng: SystemRandom,
}

/// The id of a key: the first 4 bytes of its SHA-256 (identifies, reveals nothing useful).
fn key_id(key: &[u8]) -> [u8; KEY_ID_LEN] {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(digest.as_ref().get(..KEY_ID_LEN).unwrap_or(&[0; KEY_ID_LEN]));
    id
}

impl AesGcmBox {
    /// `keys[0]` seals; every key opens. Each key is 32 bytes.
    ///
    /// # Errors
    /// When no key is given or one is not 32 bytes.
    pub fn new(keys: &[Vec<u8>]) -> Result<Self, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError("no master key".into()));
        }
        let keys = keys
            .iter()
            .map(|k| {
                let unbound = UnboundKey::new(&AES_256_GCM, k)
                    .map_err(|_| CryptoError("a master key must be 32 bytes".into()))?;
                Ok((key_id(k), LessSafeKey::new(unbound)))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        Ok(Self { keys, rng: SystemRandom::new() })
    }
}

impl SecretBox for AesGcmBox {
    fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (id, key) = self.keys.first().ok_or_else(|| CryptoError("no master key".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError("no randomness".into()))?;
        let mut data = plaintext.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(id), &mut data)
            .map_err(|_| CryptoError("seal failed".into()))?;
        let mut out = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + data.len());
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(out)
    }

    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let bad = || CryptoError("sealed data is corrupt or from an unknown key".into());
        let id = sealed.get(..KEY_ID_LEN).ok_or_else(bad)?;
        let nonce = sealed.get(KEY_ID_LEN..KEY_ID_LEN + NONCE_LEN).ok_or_else(bad)?;
        let (_, key) = self.keys.iter().find(|(k, _)| k.as_slice() == id).ok_or_else(bad)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut data = sealed.get(KEY_ID_LEN + NONCE_LEN..).ok_or_else(bad)?.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(id), &mut data).map_err(|_| bad())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_and_tampering_is_detected() {
        let b = AesGcmBox::new(&[vec![7u8; 32]]).unwrap();
        let sealed = b.seal(b"JBSWY3DPEHPK3PXP").unwrap();
        assert_ne!(&sealed[8..24], b"JBSWY3DPEHPK3PXP");
        assert_eq!(b.open(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert_ne!(b.seal(b"x").unwrap(), b.seal(b"x").unwrap(), "fresh nonce each time");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(b.open(&tampered).is_err());
        assert!(b.open(&sealed[..10]).is_err());
    }

    #[test]
    fn rotation_opens_old_and_seals_new() {
        let old = AesGcmBox::new(&[vec![1u8; 32]]).unwrap();
        let sealed = old.seal(b"secret").unwrap();
        let rotated = AesGcmBox::new(&[vec![2u8; 32], vec![1u8; 32]]).unwrap();
        assert_eq!(rotated.open(&sealed).unwrap(), b"secret");
        let fresh = rotated.seal(b"secret").unwrap();
        assert!(old.open(&fresh).is_err(), "the old keyring cannot open the new key's data");
        assert!(AesGcmBox::new(&[vec![1u8; 16]]).is_err());
    }
}
