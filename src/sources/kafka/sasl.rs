//! SASL PLAIN and SCRAM-SHA-256/512 (RFC 5802, RFC 7677) client exchanges, the primitives
//! from `ring`. Errors never quote the password.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    pub fn parse(s: &str) -> Option<Mechanism> {
        match s {
            "PLAIN" => Some(Mechanism::Plain),
            "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Some(Mechanism::ScramSha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

enum State {
    Start,
    /// SCRAM: client-first-bare sent, waiting for server-first.
    SentFirst {
        bare: String,
    },
    /// SCRAM: client-final sent, waiting for the server signature.
    SentFinal {
        expected_server_signature: Vec<u8>,
    },
    Done,
}

/// One SASL conversation: feed each server message to [`Exchange::step`], send what it
/// returns, stop when it returns None.
pub struct Exchange {
    mechanism: Mechanism,
    username: String,
    password: String,
    nonce: String,
    state: State,
}

impl Exchange {
    pub fn new(mechanism: Mechanism, username: &str, password: &str) -> Exchange {
        let mut raw = [0u8; 18];
        ring::rand::SystemRandom::new().fill(&mut raw).expect("the system RNG works");
        Exchange::with_nonce(mechanism, username, password, &B64.encode(raw))
    }

    fn with_nonce(mechanism: Mechanism, username: &str, password: &str, nonce: &str) -> Exchange {
        Exchange {
            mechanism,
            username: username.to_string(),
            password: password.to_string(),
            nonce: nonce.to_string(),
            state: State::Start,
        }
    }

    /// The next client message, or None once the exchange is complete.
    pub fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, String> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start if self.mechanism == Mechanism::Plain => {
                self.state = State::SentFinal { expected_server_signature: Vec::new() };
                Ok(Some(format!("\0{}\0{}", self.username, self.password).into_bytes()))
            }
            State::Start => {
                let user = self.username.replace('=', "=3D").replace(',', "=2C");
                let bare = format!("n={user},r={}", self.nonce);
                let first = format!("n,,{bare}");
                self.state = State::SentFirst { bare };
                Ok(Some(first.into_bytes()))
            }
            State::SentFirst { bare } => {
                let server = std::str::from_utf8(server.unwrap_or_default())
                    .map_err(|_| "the server's first message is not UTF-8".to_string())?;
                let (final_msg, sig) = self.client_final(&bare, server)?;
                self.state = State::SentFinal { expected_server_signature: sig };
                Ok(Some(final_msg.into_bytes()))
            }
            State::SentFinal { expected_server_signature } => {
                if self.mechanism != Mechanism::Plain {
                    let server = std::str::from_utf8(server.unwrap_or_default()).unwrap_or_default();
                    if let Some(e) = server.strip_prefix("e=") {
                        return Err(format!("the server refused: {e}"));
                    }
                    let v = server.strip_prefix("v=").ok_or("the server's final message has no signature")?;
                    let got = B64.decode(v).map_err(|_| "the server signature is not base64".to_string())?;
                    if got != expected_server_signature {
                        return Err("the server signature does not match: not the expected broker".to_string());
                    }
                }
                Ok(None)
            }
            State::Done => Ok(None),
        }
    }

    fn client_final(&self, bare: &str, server_first: &str) -> Result<(String, Vec<u8>), String> {
        let attr = |k: &str| server_first.split(',').find_map(|p| p.strip_prefix(k).and_then(|r| r.strip_prefix('=')));
        let nonce = attr("r").ok_or("the server's first message has no nonce")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("the server nonce does not extend ours".to_string());
        }
        let salt = B64.decode(attr("s").ok_or("no salt")?).map_err(|_| "the salt is not base64".to_string())?;
        let iterations: u32 = attr("i").and_then(|i| i.parse().ok()).ok_or("no iteration count")?;
        let iterations = std::num::NonZeroU32::new(iterations).ok_or("zero iterations")?;
        let (algo, mac, hash, len) = match self.mechanism {
            Mechanism::ScramSha256 => (pbkdf2::PBKDF2_HMAC_SHA256, hmac::HMAC_SHA256, &digest::SHA256, 32),
            _ => (pbkdf2::PBKDF2_HMAC_SHA512, hmac::HMAC_SHA512, &digest::SHA512, 64),
        };
        let mut salted = vec![0u8; len];
        pbkdf2::derive(algo, iterations, &salt, self.password.as_bytes(), &mut salted);
        let salted_key = hmac::Key::new(mac, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(hash, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let client_sig = hmac::sign(&hmac::Key::new(mac, stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(client_sig.as_ref()).map(|(a, b)| a ^ b).collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let server_sig = hmac::sign(&hmac::Key::new(mac, server_key.as_ref()), auth_message.as_bytes());
        Ok((format!("{without_proof},p={}", B64.encode(proof)), server_sig.as_ref().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example exchange of RFC 7677 section 3.
    #[test]
    fn scram_sha_256_matches_the_rfc_example() {
        let mut x = Exchange::with_nonce(Mechanism::ScramSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        let first = x.step(None).unwrap().unwrap();
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = String::from_utf8(x.step(Some(server_first)).unwrap().unwrap()).unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(x.step(Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).unwrap(), None);
    }

    #[test]
    fn a_wrong_server_signature_is_refused_without_quoting_the_password() {
        let mut x = Exchange::with_nonce(Mechanism::ScramSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        x.step(None).unwrap();
        x.step(Some(b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")).unwrap();
        let err = x.step(Some(b"v=AAAA")).unwrap_err();
        assert!(err.contains("does not match") && !err.contains("pencil"), "{err}");
    }

    #[test]
    fn plain_is_one_message() {
        let mut x = Exchange::new(Mechanism::Plain, "u", "p");
        assert_eq!(x.step(None).unwrap().unwrap(), b"\0u\0p");
        assert_eq!(x.step(Some(b"")).unwrap(), None);
    }

    #[test]
    fn a_nonce_the_server_did_not_extend_is_refused() {
        let mut x = Exchange::with_nonce(Mechanism::ScramSha512, "u", "p", "abc");
        x.step(None).unwrap();
        assert!(x.step(Some(b"r=zzz,s=AAAA,i=4096")).unwrap_err().contains("nonce"));
    }
}
