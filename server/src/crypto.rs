//! Cryptography in one place: password hashing (argon2id), token digests, random secrets,
//! JWT signing (HS256) and AES-256-GCM encryption of secrets at rest.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Hashes a password with argon2id and a random salt; returns the PHC string.
pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &SecretString, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hex SHA-256 of a high-entropy token; such tokens need no slow hash.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `len` random alphanumeric characters.
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `len` random characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// What owl's JWTs carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: a developer id or a user id.
    pub sub: String,
    /// `developer` or `sdk`.
    pub kind: String,
    /// Application of an SDK token's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Issued at, UNIX seconds.
    pub iat: i64,
    /// Expires at, UNIX seconds.
    pub exp: i64,
}

/// Signs and verifies HS256 JWTs with SECRET_KEY.
pub struct JwtSigner {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
}

/// Why a JWT was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    Expired,
    Invalid,
}

impl JwtSigner {
    /// A signer keyed by `secret`.
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        JwtSigner {
            encoding: jsonwebtoken::EncodingKey::from_secret(bytes),
            decoding: jsonwebtoken::DecodingKey::from_secret(bytes),
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature and algorithm, and expiry against `now` (UNIX seconds, no leeway).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        // Expiry is checked against the injected clock below, not the system clock.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| JwtError::Invalid)?;
        if data.claims.exp <= now {
            return Err(JwtError::Expired);
        }
        Ok(data.claims)
    }
}

/// A 32-byte key for `purpose`, derived from `secret` (SHA-256 of both).
pub fn derive_key(secret: &SecretString, purpose: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(secret.expose_secret().as_bytes());
    hasher.finalize().to_vec()
}

/// AES-256-GCM with the deployment's encryption key; ciphertexts are nonce ‖ ciphertext ‖ tag.
#[derive(Clone)]
pub struct Cipher {
    key: SecretSlice<u8>,
    /// Keys of before a rotation: accepted for reading only.
    previous: Vec<SecretSlice<u8>>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([REDACTED])")
    }
}

const NONCE_LEN: usize = 12;

impl Cipher {
    /// A cipher keyed by 32 bytes.
    pub fn new(key: SecretSlice<u8>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            key.expose_secret().len() == 32,
            "encryption key must be 32 bytes"
        );
        Ok(Cipher {
            key,
            previous: Vec::new(),
        })
    }

    /// The same cipher, also reading what `previous` keys encrypted (during a key rotation).
    pub fn with_previous(mut self, previous: Vec<SecretSlice<u8>>) -> anyhow::Result<Self> {
        for key in &previous {
            anyhow::ensure!(
                key.expose_secret().len() == 32,
                "encryption keys must be 32 bytes"
            );
        }
        self.previous = previous;
        Ok(self)
    }

    fn aead(&self) -> anyhow::Result<Aes256Gcm> {
        aead(&self.key)
    }

    /// Whether `data` is encrypted under the current key.
    pub fn is_current(&self, data: &[u8]) -> bool {
        open(&self.key, data).is_ok()
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn encrypt(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .aead()?
            .encrypt(&nonce, plaintext)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts what `encrypt` produced under the current or a previous key; fails on an
    /// unknown key or tampering.
    pub fn decrypt(&self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        std::iter::once(&self.key)
            .chain(&self.previous)
            .find_map(|key| open(key, data).ok())
            .ok_or_else(|| anyhow::anyhow!("decryption failed: wrong key or tampered data"))
    }
}

fn aead(key: &SecretSlice<u8>) -> anyhow::Result<Aes256Gcm> {
    Aes256Gcm::new_from_slice(key.expose_secret())
        .map_err(|_| anyhow::anyhow!("encryption key must be 32 bytes"))
}

fn open(key: &SecretSlice<u8>, data: &[u8]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(data.len() > NONCE_LEN, "ciphertext too short");
    let (nonce, ciphertext) = data.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into()?;
    aead(key)?
        .decrypt(&Nonce::from(nonce), ciphertext)
        .map_err(|_| anyhow::anyhow!("decryption failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(
            &SecretString::from("correct horse battery"),
            &hash
        ));
        assert!(!verify_password(
            &SecretString::from("wrong horse battery"),
            &hash
        ));
        assert!(!verify_password(
            &SecretString::from("x"),
            "not a phc string"
        ));
    }

    #[test]
    fn a_jwt_is_refused_after_expiry_or_under_another_key() {
        let signer = JwtSigner::new(&SecretString::from("k".repeat(32)));
        let claims = Claims {
            sub: "s".into(),
            kind: "developer".into(),
            app: None,
            iat: 0,
            exp: 100,
        };
        let token = signer.sign(&claims).unwrap();
        assert_eq!(signer.verify(&token, 99), Ok(claims));
        assert_eq!(signer.verify(&token, 100), Err(JwtError::Expired));
        let other = JwtSigner::new(&SecretString::from("j".repeat(32)));
        assert_eq!(other.verify(&token, 0), Err(JwtError::Invalid));
    }

    #[test]
    fn ciphertexts_round_trip_and_detect_tampering() {
        let cipher = Cipher::new(SecretSlice::from(vec![7u8; 32])).unwrap();
        let sealed = cipher.encrypt(b"provider token").unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"provider"));
        assert_eq!(cipher.decrypt(&sealed).unwrap(), b"provider token");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cipher.decrypt(&tampered).is_err());
        let other = Cipher::new(SecretSlice::from(vec![8u8; 32])).unwrap();
        assert!(other.decrypt(&sealed).is_err());
    }

    #[test]
    fn a_rotated_cipher_reads_old_ciphertexts_and_writes_under_the_new_key() {
        let old = Cipher::new(SecretSlice::from(vec![7u8; 32])).unwrap();
        let sealed = old.encrypt(b"provider token").unwrap();
        let rotated = Cipher::new(SecretSlice::from(vec![8u8; 32]))
            .unwrap()
            .with_previous(vec![SecretSlice::from(vec![7u8; 32])])
            .unwrap();
        assert_eq!(rotated.decrypt(&sealed).unwrap(), b"provider token");
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.encrypt(b"provider token").unwrap();
        assert!(rotated.is_current(&resealed));
        assert!(old.decrypt(&resealed).is_err());
    }
}
