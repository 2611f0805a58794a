//! Signing in: a password, or an OAuth2 access token sent as XOAUTH2 (Gmail, Microsoft).

/// What a connection signs in with. Never logged.
#[derive(Clone)]
pub enum Login {
    Password(String),
    /// An OAuth2 access token (XOAUTH2).
    Bearer(String),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Login::Password(_) => "Login::Password(..)",
            Login::Bearer(_) => "Login::Bearer(..)",
        })
    }
}

/// The XOAUTH2 SASL initial response (Google's and Microsoft's documented format):
/// `user=<user>^Aauth=Bearer <token>^A^A`, base64-encoded by the IMAP/SMTP client.
pub fn xoauth2_response(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// async-imap's `AUTHENTICATE XOAUTH2`: answers the first (empty) challenge with the token;
/// a failure challenge (a JSON error) is answered with an empty line, as the mechanism asks.
pub struct XOAuth2 {
    pub user: String,
    pub token: String,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, challenge: &[u8]) -> String {
        if challenge.is_empty() {
            xoauth2_response(&self.user, &self.token)
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator;

    #[test]
    fn xoauth2_matches_the_documented_format() {
        // Google's example: user=someuser@example.com^Aauth=Bearer ya29.vF9dft4...^A^A
        let r = xoauth2_response(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            r,
            "user=someuser@example.com\u{1}auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\u{1}\u{1}"
        );
        let mut auth = XOAuth2 {
            user: "a@b.it".into(),
            token: "t".into(),
        };
        assert_eq!(auth.process(b""), "user=a@b.it\u{1}auth=Bearer t\u{1}\u{1}");
        // An error challenge (JSON) is answered with an empty line, ending the exchange.
        assert_eq!(auth.process(br#"{"status":"400"}"#), "");
        assert!(!format!("{:?}", Login::Bearer("secret".into())).contains("secret"));
    }
}
