//! Slack's request signature (v0): HMAC-SHA256 with the app's signing secret over
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`, hex, sent as `X-Slack-Signature: v0=<hex>`.
//!
//! The raw body is what is signed: it is checked before anything parses it. The timestamp must
//! be within [`MAX_SKEW_SECONDS`] of now in either direction (Slack's five-minute window), and
//! the signatures are compared in constant time. No check quotes the signature or the secret.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Headers, SlackError, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// How far a request's timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The only signature version Slack sends.
const VERSION: &str = "v0";

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The request's signed timestamp.
    pub timestamp: DateTime<Utc>,
    /// The request's signature header as sent (`v0=<hex>`): unique to the request, so a second
    /// request carrying it is a replay.
    pub signature: String,
}

/// Checks that `raw_body` with `headers` was signed by Slack with `signing_secret` within
/// [`MAX_SKEW_SECONDS`] of `now`.
pub fn verify(
    signing_secret: &SecretString,
    headers: &Headers<'_>,
    raw_body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, SlackError> {
    let timestamp_text = headers
        .timestamp
        .ok_or(SlackError::Unsigned(TIMESTAMP_HEADER))?;
    let signature = headers
        .signature
        .ok_or(SlackError::Unsigned(SIGNATURE_HEADER))?;
    let seconds: i64 = timestamp_text
        .parse()
        .ok()
        .filter(|_| timestamp_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(SlackError::BadTimestamp)?;
    let timestamp = Utc
        .timestamp_opt(seconds, 0)
        .single()
        .ok_or(SlackError::BadTimestamp)?;
    let skew = (now - timestamp).num_seconds();
    if skew.abs() > MAX_SKEW_SECONDS {
        return Err(SlackError::Stale { skew_seconds: skew });
    }
    let given = signature
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('='))
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .ok_or(SlackError::BadSignature)?;
    let expected = sign(signing_secret, timestamp_text, raw_body);
    // Both are SHA-256 sized when well formed; a length mismatch reveals nothing secret.
    if given.len() != expected.len() || !bool::from(given.ct_eq(&expected)) {
        return Err(SlackError::BadSignature);
    }
    Ok(Verified {
        timestamp,
        signature: signature.to_owned(),
    })
}

/// The raw v0 HMAC of `body` sent at `timestamp` (the header's text, as signed).
fn sign(signing_secret: &SecretString, timestamp: &str, body: &[u8]) -> Vec<u8> {
    // A value read from Secrets Manager may end with a newline; the secret is hex.
    let key = signing_secret.expose_secret().trim();
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(VERSION.as_bytes());
    mac.update(b":");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp` (Unix seconds):
/// for tests and local tools that play Slack.
pub fn signature_for(signing_secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!(
        "{VERSION}={}",
        hex::encode(sign(signing_secret, &timestamp.to_string(), body))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's worked example ("Verifying requests from Slack"), also checked with Python's hmac.
    const EXAMPLE_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const EXAMPLE_TIMESTAMP: i64 = 1_531_420_618;
    const EXAMPLE_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXAMPLE_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().expect("valid time")
    }

    struct Case {
        name: &'static str,
        secret: &'static str,
        timestamp: Option<&'static str>,
        signature: Option<&'static str>,
        body: &'static str,
        now: i64,
        expect: Result<(), &'static str>,
    }

    fn outcome(result: &Result<Verified, SlackError>) -> Result<(), String> {
        match result {
            Ok(_) => Ok(()),
            Err(SlackError::Unsigned(header)) => Err(format!("unsigned {header}")),
            Err(SlackError::BadTimestamp) => Err("bad timestamp".into()),
            Err(SlackError::Stale { skew_seconds }) => Err(format!("stale {skew_seconds}")),
            Err(SlackError::BadSignature) => Err("bad signature".into()),
            Err(other) => Err(format!("unexpected {other}")),
        }
    }

    #[test]
    fn the_documented_example_and_every_way_to_fail() {
        let good = Case {
            name: "Slack's example",
            secret: EXAMPLE_SECRET,
            timestamp: Some("1531420618"),
            signature: Some(EXAMPLE_SIGNATURE),
            body: EXAMPLE_BODY,
            now: EXAMPLE_TIMESTAMP,
            expect: Ok(()),
        };
        let cases = [
            Case {
                name: "late within the window",
                now: EXAMPLE_TIMESTAMP + 300,
                ..good
            },
            Case {
                name: "early within the window",
                now: EXAMPLE_TIMESTAMP - 300,
                ..good
            },
            Case {
                name: "stale",
                now: EXAMPLE_TIMESTAMP + 301,
                expect: Err("stale 301"),
                ..good
            },
            Case {
                name: "from the future",
                now: EXAMPLE_TIMESTAMP - 301,
                expect: Err("stale -301"),
                ..good
            },
            Case {
                name: "tampered body",
                body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&user_id=U0ADMIN",
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "tampered timestamp",
                timestamp: Some("1531420619"),
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "wrong secret",
                secret: "8f742231b10e8888abcd99yyyzzz85a6",
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "no timestamp",
                timestamp: None,
                expect: Err("unsigned X-Slack-Request-Timestamp"),
                ..good
            },
            Case {
                name: "no signature",
                signature: None,
                expect: Err("unsigned X-Slack-Signature"),
                ..good
            },
            Case {
                name: "timestamp not a number",
                timestamp: Some("yesterday"),
                expect: Err("bad timestamp"),
                ..good
            },
            Case {
                name: "signed timestamp",
                timestamp: Some("+1531420618"),
                expect: Err("bad timestamp"),
                ..good
            },
            Case {
                name: "empty timestamp",
                timestamp: Some(""),
                expect: Err("bad timestamp"),
                ..good
            },
            Case {
                name: "other version",
                signature: Some(
                    "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                ),
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "not hex",
                signature: Some(
                    "v0=zz114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                ),
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "truncated",
                signature: Some(
                    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5",
                ),
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "empty",
                signature: Some(""),
                expect: Err("bad signature"),
                ..good
            },
            Case {
                name: "uppercase hex is the same bytes",
                signature: Some(
                    "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503",
                ),
                ..good
            },
            Case {
                name: "secret read with a newline",
                secret: "8f742231b10e8888abcd99yyyzzz85a5\n",
                ..good
            },
            good,
        ];
        for case in cases {
            let headers = Headers {
                timestamp: case.timestamp,
                signature: case.signature,
            };
            let got = verify(
                &secret(case.secret),
                &headers,
                case.body.as_bytes(),
                at(case.now),
            );
            assert_eq!(
                outcome(&got),
                case.expect.map_err(str::to_owned),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn a_verified_request_carries_its_timestamp_and_signature() {
        let headers = Headers {
            timestamp: Some("1531420618"),
            signature: Some(EXAMPLE_SIGNATURE),
        };
        let verified = verify(
            &secret(EXAMPLE_SECRET),
            &headers,
            EXAMPLE_BODY.as_bytes(),
            at(EXAMPLE_TIMESTAMP + 10),
        )
        .expect("valid");
        assert_eq!(verified.timestamp, at(EXAMPLE_TIMESTAMP));
        assert_eq!(verified.signature, EXAMPLE_SIGNATURE);
        assert_eq!(
            signature_for(
                &secret(EXAMPLE_SECRET),
                EXAMPLE_TIMESTAMP,
                EXAMPLE_BODY.as_bytes()
            ),
            EXAMPLE_SIGNATURE
        );
    }

    #[test]
    fn errors_quote_neither_the_secret_nor_the_signature() {
        let headers = Headers {
            timestamp: Some("1531420618"),
            signature: Some(EXAMPLE_SIGNATURE),
        };
        let error = verify(
            &secret("another-secret-value"),
            &headers,
            EXAMPLE_BODY.as_bytes(),
            at(EXAMPLE_TIMESTAMP),
        )
        .expect_err("wrong secret");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("another-secret-value"), "{shown}");
        assert!(!shown.contains("a2114d57"), "{shown}");
    }
}
