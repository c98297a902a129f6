//! The keys inside shared model definitions, encrypted at rest: AES-256-GCM (aws-lc-rs) under a
//! key derived with HKDF-SHA256 from the gateway's `master_key`, which every instance sharing
//! the database has. Each value is bound to its deployment id (the AEAD's associated data), so a
//! row's secrets cannot be moved to another row.

use aws_lc_rs::{aead, hkdf, rand};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// HKDF salt and info: changing either makes every stored secret unreadable.
const SALT: &[u8] = b"agent-shim shared state";
const INFO: &[u8] = b"registered_models.secrets v1";

/// Seals and opens the secrets column of `registered_models`.
pub struct Cipher(aead::LessSafeKey);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

impl Cipher {
    /// The cipher of `master_key` (`None` only if the key derivation itself fails).
    pub fn from_master_key(master_key: &str) -> Option<Cipher> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(master_key.as_bytes());
        let okm = prk.expand(&[INFO], &aead::AES_256_GCM).ok()?;
        Some(Cipher(aead::LessSafeKey::new(aead::UnboundKey::from(okm))))
    }

    /// `plain` sealed for the row `aad`: base64 of nonce (12 bytes), ciphertext and tag.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Option<String> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        rand::fill(&mut nonce).ok()?;
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Some(STANDARD.encode(out))
    }

    /// The plain text of `sealed` (from [`Cipher::seal`] with the same `aad`); `None` when it was
    /// sealed under another master key, for another row, or altered.
    pub fn open(&self, aad: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = STANDARD.decode(sealed.trim()).ok()?;
        if raw.len() < aead::NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_row() {
        let c = Cipher::from_master_key("sk-master-1").unwrap();
        let sealed = c.seal("dep-1", br#"{"api_key":"sk-live-123"}"#).unwrap();
        assert!(!sealed.contains("sk-live"), "{sealed}");
        assert_eq!(
            c.open("dep-1", &sealed).unwrap(),
            br#"{"api_key":"sk-live-123"}"#
        );
        // Another row, another master key, an altered value: nothing.
        assert!(c.open("dep-2", &sealed).is_none());
        let other = Cipher::from_master_key("sk-master-2").unwrap();
        assert!(other.open("dep-1", &sealed).is_none());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(c.open("dep-1", &STANDARD.encode(bytes)).is_none());
        // Two seals of one value differ (fresh nonces).
        assert_ne!(
            sealed,
            c.seal("dep-1", br#"{"api_key":"sk-live-123"}"#).unwrap()
        );
    }
}
