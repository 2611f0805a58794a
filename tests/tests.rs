//! Integration tests of Sportello against real parts started on loopback by the harness in
//! `support/`: Dovecot (IMAP), aiosmtpd (SMTP), and, for `window`, the real app under Xvfb.
//! Tests that need the OS keyring run inside `tests/session.sh` (D-Bus + unlocked
//! gnome-keyring); `.ci/test` does that.

mod support;

mod cli;
mod email;
// Files leaving by email: replies with files, forwards, the size limit.
mod email_files;
// WhatsApp (Cloud webhooks, Twilio), Messenger/Instagram, Telegram against local fakes.
mod messaging;
// OAuth2 browser sign-in against a local OAuth2 server, XOAUTH2 against Dovecot/aiosmtpd.
mod oauth;
mod window;
