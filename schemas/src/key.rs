//! Deterministic record keys: the same natural facts always give the same key, so that
//! ingesting a file twice stores its records once.

use sha2::{Digest, Sha256};

/// `kind` plus the natural-key parts, hashed; 32 hex characters (128 bits).
/// Parts are separated by a unit separator so that `("ab","c")` and `("a","bc")` differ.
pub fn record_key(kind: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for p in parts {
        h.update([0x1f]);
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    hex::encode(&digest[..16])
}

/// SHA-256 of arbitrary bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_unambiguous() {
        assert_eq!(record_key("a", &["x", "y"]), record_key("a", &["x", "y"]));
        assert_ne!(record_key("a", &["ab", "c"]), record_key("a", &["a", "bc"]));
        assert_ne!(record_key("a", &["x"]), record_key("b", &["x"]));
        assert_eq!(record_key("a", &["x"]).len(), 32);
    }
}
