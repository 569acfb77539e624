//! Certificate pins: `sha256/` and the base64 of the SHA-256 of a certificate's
//! SubjectPublicKeyInfo (as HTTP public key pinning wrote them). The server prints its
//! pin; a device given one trusts exactly that key, also when the certificate is
//! self-signed (a kelurahan office without a public name).

use base64::Engine;
use sha2::{Digest, Sha256};

/// The pin of a DER certificate, or `None` if it does not parse as X.509.
pub fn pin_of_certificate(der: &[u8]) -> Option<String> {
    spki(der).map(|key| {
        let hash = Sha256::digest(key);
        format!(
            "sha256/{}",
            base64::engine::general_purpose::STANDARD.encode(hash)
        )
    })
}

/// Checks a pin's form (`sha256/` and 44 characters of base64).
pub fn parse_pin(pin: &str) -> Result<String, String> {
    let pin = pin.trim();
    let ok = pin.strip_prefix("sha256/").is_some_and(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .is_ok_and(|h| h.len() == 32)
    });
    if ok {
        Ok(pin.to_string())
    } else {
        Err("a pin is `sha256/` and 44 characters of base64, as the server prints it".into())
    }
}

/// One DER element at the start of `input`: (tag, the whole element, its contents).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (header, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (2 + n, len)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(..end)?, input.get(header..end)?))
}

/// The SubjectPublicKeyInfo element of an X.509 certificate: the seventh element of
/// `tbsCertificate` counting the optional `[0]` version (RFC 5280 §4.1).
fn spki(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    let (tag, _, cert) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, _, mut tbs) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut fields = Vec::with_capacity(7);
    while fields.len() < 7 {
        let (tag, whole, _) = element(tbs)?;
        tbs = &tbs[whole.len()..];
        if fields.is_empty() && tag != 0xa0 {
            fields.push((0xa0, &[][..])); // no version: v1
        }
        fields.push((tag, whole));
    }
    let (tag, key) = fields[6];
    (tag == SEQUENCE).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_have_one_form() {
        assert!(parse_pin("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        assert!(parse_pin("sha1/abc").is_err());
        assert!(parse_pin("sha256/short").is_err());
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(pin_of_certificate(b""), None);
        assert_eq!(pin_of_certificate(&[0x30, 0x82, 0xff, 0xff, 0x30]), None);
        assert_eq!(pin_of_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}
