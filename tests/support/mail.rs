//! Real mail servers for tests, private to one test and gone when it ends:
//!
//! - Dovecot (IMAP) from its own config file in a temp folder: a passwd-file user, Maildir
//!   storage, a plain port (offering STARTTLS) and an implicit-TLS port, with a server
//!   certificate for `localhost`/127.0.0.1 signed by a throwaway CA made with openssl.
//! - aiosmtpd (SMTP) from a small Python script: a plain port (offering STARTTLS) and an
//!   implicit-TLS port, both requiring AUTH; every accepted message is saved as a file.
//!   Writing a reply line to `smtp/fail` makes it refuse messages with that reply.
//!
//! Ports are picked at run time, so tests run in parallel. Dropping [`MailServers`] stops both.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sportello_email::{EmailAccountInput, Security};

use super::{free_port, wait_for_port, wait_until};

/// The mailbox's owner: the account address and IMAP/SMTP login.
pub const USER: &str = "negozio@localhost";
/// Distinctive, so a test can check it never appears in an error or a log.
pub const PASSWORD: &str = "pw-Segreto-4417";
/// The Sent folder, advertised with SPECIAL-USE `\Sent`.
pub const SENT: &str = "Sent";
/// The archive folder, advertised with SPECIAL-USE `\Archive`.
pub const ARCHIVE: &str = "Archivio";

const SMTP_SERVER: &str = r#"
import asyncio, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

folder, host, plain_port, tls_port, cert, key, user, password = sys.argv[1:9]
# With a 10th argument, XOAUTH2 is accepted for access tokens that this RFC 7662 introspection
# URL (the fake OAuth2 server) calls active for the user.
introspection = sys.argv[9] if len(sys.argv) > 9 else None
plain_port, tls_port = int(plain_port), int(tls_port)
os.makedirs(os.path.join(folder, "received"), exist_ok=True)

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd answers 535 itself (its default, True, answers nothing).
    return AuthResult(success=ok, handled=False)

class Capture:
    count = 0
    async def auth_XOAUTH2(self, server, args):
        import base64, json, urllib.parse, urllib.request
        if introspection is None or len(args) < 2:
            return AuthResult(success=False, handled=False)
        fields = base64.b64decode(args[1]).decode().split("\x01")
        login = next((f[5:] for f in fields if f.startswith("user=")), "")
        token = next((f[12:] for f in fields if f.startswith("auth=Bearer ")), "")
        body = urllib.parse.urlencode({"token": token}).encode()
        def ask():
            with urllib.request.urlopen(introspection, data=body, timeout=10) as r:
                return json.load(r)
        answer = await asyncio.get_running_loop().run_in_executor(None, ask)
        ok = login == user and answer.get("active") is True and answer.get("email") == user
        return AuthResult(success=ok, handled=False)
    async def handle_DATA(self, server, session, envelope):
        fail = os.path.join(folder, "fail")
        if os.path.exists(fail):
            with open(fail) as f:
                return f.read().strip()
        Capture.count += 1
        name = "%06d-%d" % (Capture.count, time.time_ns())
        tmp = os.path.join(folder, "received", "." + name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(tmp + ".env", "w") as f:
            f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
        os.rename(tmp + ".env", os.path.join(folder, "received", name + ".env"))
        os.rename(tmp, os.path.join(folder, "received", name + ".eml"))
        return "250 OK queued as %s" % name

def context():
    c = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    c.load_cert_chain(cert, key)
    return c

common = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False,
              hostname=host, server_hostname="localhost")
plain = Controller(Capture(), port=plain_port, tls_context=context(), **common)
plain.start()
implicit = Controller(Capture(), port=tls_port, ssl_context=context(), **common)
implicit.start()
open(os.path.join(folder, "ready"), "w").close()
# Stop with the test process, even when it is killed before it can stop us.
parent = os.getppid()
try:
    while os.getppid() == parent:
        time.sleep(0.5)
except KeyboardInterrupt:
    pass
os._exit(0)
"#;

/// A Dovecot and an aiosmtpd on loopback, with one mailbox ([`USER`] / [`PASSWORD`]).
pub struct MailServers {
    dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    dovecot: Option<Child>,
    smtp: Option<Child>,
    /// Dovecot offers neither IDLE nor CONDSTORE/QRESYNC (the fallback paths).
    basic: bool,
    /// Both servers also take XOAUTH2, asking this introspection URL about the token.
    oauth: Option<String>,
}

fn run(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signals a process to stop and reaps it (SIGKILL if it lingers).
/// Every process below `pid` (from /proc), children before their parents' other children.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: the name may hold spaces, so read after the last ')'.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        {
            parents.push((child, ppid));
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for &(child, _) in parents.iter().filter(|(_, ppid)| *ppid == p) {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

fn stop_child(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl MailServers {
    /// Starts both servers and waits until they accept connections.
    pub fn start() -> MailServers {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), with a Dovecot that offers no IDLE and no
    /// CONDSTORE/QRESYNC, as Outlook's IMAP server.
    pub fn start_basic() -> MailServers {
        Self::start_with(true)
    }

    /// Like [`start`](Self::start), and both servers also accept XOAUTH2 with an access token
    /// that `introspection_url` (RFC 7662, the fake OAuth2 server) calls active for [`USER`]:
    /// Dovecot through its `oauth2` passdb, aiosmtpd through an `auth_XOAUTH2` hook.
    pub fn start_oauth(introspection_url: &str) -> MailServers {
        Self::start_full(false, Some(introspection_url.to_string()))
    }

    fn start_with(basic: bool) -> MailServers {
        Self::start_full(basic, None)
    }

    fn start_full(basic: bool, oauth: Option<String>) -> MailServers {
        let dir = tempfile::Builder::new()
            .prefix("sportello-mail.")
            .tempdir()
            .expect("temp dir");
        // Dovecot's unprivileged auth process must read the config and the users file.
        set_mode(dir.path(), 0o755);
        let servers = MailServers {
            dir,
            imap_port: free_port(),
            imaps_port: free_port(),
            smtp_port: free_port(),
            smtps_port: free_port(),
            dovecot: None,
            smtp: None,
            basic,
            oauth,
        };
        servers.write_files();
        let mut servers = servers;
        servers.start_imap();
        // A port picked free may be taken by a parallel test before the server binds it:
        // then the SMTP server starts again on fresh ports.
        for attempt in 1.. {
            match servers.spawn_smtp() {
                Ok(()) => break,
                Err(e) if attempt < 5 && e.contains("error while attempting to bind") => {
                    servers.smtp_port = free_port();
                    servers.smtps_port = free_port();
                }
                Err(e) => panic!("the SMTP server exited: {e}"),
            }
        }
        servers
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA that signed both servers' certificate (PEM), for `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn config(&self) -> PathBuf {
        self.path("dovecot.conf")
    }

    fn write_files(&self) {
        let d = self.dir.path();
        for sub in ["run", "state", "smtp"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // Dovecot creates each user's home as that user.
        std::fs::create_dir_all(d.join("home")).unwrap();
        set_mode(&d.join("home"), 0o1777);

        let ssl = |args: &[&str], what: &str| {
            run(Command::new("openssl").args(args).current_dir(d), what);
        };
        ssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3",
                "-subj",
                "/CN=Sportello Test CA",
            ],
            "openssl (test CA)",
        );
        ssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            "openssl (server key)",
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        ssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "3",
                "-extfile",
                "server.ext",
            ],
            "openssl (server certificate)",
        );
        set_mode(&d.join("key.pem"), 0o644);

        std::fs::write(
            d.join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let p = |name: &str| d.join(name).display().to_string();
        // As root, mail is accessed as nobody (Dovecot refuses uid 0); as another user, everything
        // runs as that user.
        let (users, owner) = if is_root() {
            (
                String::new(),
                format!("uid=nobody gid=nogroup home={}/%n", p("home")),
            )
        } else {
            let me = whoami();
            (
                format!(
                    "default_internal_user = {me}\ndefault_login_user = {me}\n\
                     service anvil {{\n  chroot =\n}}\nservice imap-login {{\n  chroot =\n}}\n"
                ),
                format!("home={}/%n", p("home")),
            )
        };
        let config = format!(
            r#"base_dir = {run}
state_dir = {state}
log_path = {log}
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login{xoauth2}
# One "Password mismatch" line per refused login: tests count them.
auth_verbose = yes
mail_location = maildir:~/Maildir
mail_fsync = never
{users}service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
  override_fields = {owner}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox {sent} {{
    special_use = \Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \Trash
    auto = subscribe
  }}
  mailbox {archive} {{
    special_use = \Archive
    auto = subscribe
  }}
}}
{capabilities}"#,
            run = p("run"),
            state = p("state"),
            log = p("dovecot.log"),
            cert = p("cert.pem"),
            key = p("key.pem"),
            imap = self.imap_port,
            imaps = self.imaps_port,
            passwd = p("users"),
            sent = SENT,
            archive = ARCHIVE,
            xoauth2 = if self.oauth.is_some() { " xoauth2" } else { "" },
            oauth_passdb = if self.oauth.is_some() {
                format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2\n  args = {}\n}}\n",
                    p("oauth2.conf.ext")
                )
            } else {
                String::new()
            },
            capabilities = if self.basic {
                // A server like Outlook's: no IDLE, no CONDSTORE/QRESYNC.
                "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE \
                 SPECIAL-USE UIDPLUS MOVE NAMESPACE\n"
            } else {
                ""
            },
        );
        std::fs::write(self.config(), config).unwrap();
        if let Some(url) = &self.oauth {
            // Dovecot 2.3's oauth2 passdb: POST token=... to the introspection URL; the
            // answer's `email` must be the user named in the XOAUTH2 string.
            std::fs::write(
                d.join("oauth2.conf.ext"),
                format!(
                    "introspection_mode = post\nintrospection_url = {url}\n\
                     force_introspection = yes\nusername_attribute = email\n\
                     active_attribute = active\nactive_value = true\n"
                ),
            )
            .unwrap();
            set_mode(&d.join("oauth2.conf.ext"), 0o644);
        }
        std::fs::write(d.join("smtp_server.py"), SMTP_SERVER).unwrap();
    }

    /// Starts Dovecot (again, after [`stop_imap`](Self::stop_imap)) on the same ports.
    pub fn start_imap(&mut self) {
        assert!(self.dovecot.is_none(), "Dovecot is already running");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.config())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("dovecot.stderr")).unwrap())
            .spawn()
            .expect("start dovecot (Debian package dovecot-imapd)");
        self.dovecot = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        for port in [self.imap_port, self.imaps_port] {
            wait_for_port(
                port,
                "Dovecot",
                deadline.saturating_duration_since(Instant::now()),
            );
        }
    }

    /// Stops Dovecot: IMAP connections are refused until [`start_imap`](Self::start_imap).
    pub fn stop_imap(&mut self) {
        if let Some(mut child) = self.dovecot.take() {
            // Dovecot's master lets a busy imap process finish what it is sending; a server
            // that goes down drops its connections at once, so its processes are killed first.
            for pid in descendants(child.id()) {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            stop_child(&mut child);
        }
    }

    /// Starts the SMTP server (again) on the same ports.
    pub fn start_smtp(&mut self) {
        if let Err(e) = self.spawn_smtp() {
            panic!("the SMTP server exited: {e}");
        }
    }

    /// Starts the SMTP server and waits until it listens; its exit status and stderr if it
    /// exits instead.
    fn spawn_smtp(&mut self) -> Result<(), String> {
        assert!(self.smtp.is_none(), "the SMTP server is already running");
        let smtp = self.path("smtp");
        let _ = std::fs::remove_file(smtp.join("ready"));
        let child = Command::new("/usr/bin/python3")
            .arg(self.path("smtp_server.py"))
            .arg(&smtp)
            .arg("127.0.0.1")
            .arg(self.smtp_port.to_string())
            .arg(self.smtps_port.to_string())
            .arg(self.path("cert.pem"))
            .arg(self.path("key.pem"))
            .arg(USER)
            .arg(PASSWORD)
            .args(self.oauth.iter())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("smtp.stderr")).unwrap())
            .spawn()
            .expect("start the SMTP server (Debian package python3-aiosmtpd)");
        self.smtp = Some(child);
        let ready = smtp.join("ready");
        let exited = wait_until("the SMTP server", Duration::from_secs(20), || {
            if let Some(Ok(Some(status))) = self.smtp.as_mut().map(|c| c.try_wait()) {
                return Some(Some(format!(
                    "({status}): {}",
                    std::fs::read_to_string(self.path("smtp.stderr")).unwrap_or_default()
                )));
            }
            ready.exists().then_some(None)
        });
        if let Some(e) = exited {
            self.smtp = None;
            return Err(e);
        }
        wait_for_port(self.smtp_port, "the SMTP server", Duration::from_secs(5));
        wait_for_port(self.smtps_port, "the SMTP server", Duration::from_secs(5));
        Ok(())
    }

    pub fn stop_smtp(&mut self) {
        if let Some(mut child) = self.smtp.take() {
            stop_child(&mut child);
        }
    }

    /// Runs `doveadm` on this server's config, as the mailbox's owner.
    pub fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let mut cmd = Command::new("doveadm");
        cmd.arg("-c").arg(self.config()).args(args);
        let what = format!("doveadm {}", args.join(" "));
        let out = match stdin {
            None => run(&mut cmd, &what),
            Some(bytes) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                child.stdin.take().unwrap().write_all(bytes).unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "{what} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        };
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Puts a message into a folder of the mailbox, as a mail server delivering it would.
    pub fn deliver(&self, folder: &str, raw: &[u8]) {
        self.doveadm(&["save", "-u", USER, "-m", folder], Some(raw));
    }

    /// Puts many messages into a folder at once (written as Maildir files, then indexed):
    /// thousands per second, where IMAP APPEND or `doveadm save` take far longer.
    pub fn deliver_many(&self, folder: &str, messages: &[Vec<u8>]) {
        // Make sure the folder and its Maildir exist.
        self.doveadm(&["mailbox", "status", "-u", USER, "messages", folder], None);
        let base = self
            .dir
            .path()
            .join("home")
            .join(USER.split('@').next().unwrap())
            .join("Maildir");
        let maildir = if folder.eq_ignore_ascii_case("INBOX") {
            base
        } else {
            base.join(format!(".{}", folder.replace('/', ".")))
        };
        let cur = maildir.join("cur");
        assert!(cur.is_dir(), "no Maildir at {}", cur.display());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        for (i, raw) in messages.iter().enumerate() {
            // Files are created 0644 so Dovecot (as nobody) can read them; it renames them in
            // its own folder when flags change.
            std::fs::write(cur.join(format!("{stamp}.M{i:06}.sportello-test:2,")), raw).unwrap();
        }
        self.doveadm(&["force-resync", "-u", USER, folder], None);
    }

    /// One number of `doveadm mailbox status` (`messages`, `uidvalidity`, `uidnext`...).
    pub fn status(&self, folder: &str, field: &str) -> u32 {
        let out = self.doveadm(
            &["-f", "flow", "mailbox", "status", "-u", USER, field, folder],
            None,
        );
        // "INBOX uidvalidity=1795425824"
        let prefix = format!("{field}=");
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("unexpected doveadm output: {out:?}"))
    }

    /// The folder's UIDVALIDITY.
    pub fn uidvalidity(&self, folder: &str) -> u32 {
        self.status(folder, "uidvalidity")
    }

    /// Gives the folder a new UIDVALIDITY, as a server does after rebuilding its indexes:
    /// clients must forget the UIDs they knew there.
    pub fn bump_uidvalidity(&self, folder: &str) -> u32 {
        let new = self.uidvalidity(folder) + 1;
        self.doveadm(
            &[
                "mailbox",
                "update",
                "-u",
                USER,
                "--uid-validity",
                &new.to_string(),
                folder,
            ],
            None,
        );
        assert_eq!(self.uidvalidity(folder), new);
        new
    }

    /// Removes messages from a folder: `query` is a doveadm search query such as `all`,
    /// `uid 3` or `header Message-ID <x@y>`.
    pub fn expunge(&self, folder: &str, query: &[&str]) {
        let mut args = vec!["expunge", "-u", USER, "mailbox", folder];
        args.extend_from_slice(query);
        self.doveadm(&args, None);
    }

    /// Adds (`add`) or removes (`remove`) flags such as `\\Seen` on the messages `query`
    /// names, as another mail client would.
    pub fn flags(&self, change: &str, flags: &str, folder: &str, query: &[&str]) {
        let mut args = vec!["flags", change, "-u", USER, flags, "mailbox", folder];
        args.extend_from_slice(query);
        self.doveadm(&args, None);
    }

    /// The flags of the messages `query` names, e.g. `["\\Seen \\Answered"]`.
    pub fn flags_of(&self, folder: &str, query: &[&str]) -> Vec<String> {
        let mut args = vec!["-f", "tab", "fetch", "-u", USER, "flags", "mailbox", folder];
        args.extend_from_slice(query);
        let out = self.doveadm(&args, None);
        out.lines().skip(1).map(|l| l.trim().to_string()).collect()
    }

    /// Moves messages to another folder, as another mail client would.
    pub fn move_to(&self, to: &str, folder: &str, query: &[&str]) {
        let mut args = vec!["move", "-u", USER, to, "mailbox", folder];
        args.extend_from_slice(query);
        self.doveadm(&args, None);
    }

    /// How many messages a folder holds.
    pub fn count(&self, folder: &str) -> u32 {
        self.status(folder, "messages")
    }

    /// An account on this server over plain connections (allowed to loopback only).
    pub fn account_input(&self) -> EmailAccountInput {
        EmailAccountInput {
            name: "Negozio".into(),
            address: USER.into(),
            imap_host: "127.0.0.1".into(),
            imap_port: self.imap_port,
            imap_security: Security::Plain,
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.smtp_port,
            smtp_security: Security::Plain,
            username: None,
            password: PASSWORD.into(),
            ca_file: None,
        }
    }

    /// An account over implicit TLS (IMAPS, SMTPS) to `localhost`, trusting the test CA.
    pub fn account_input_tls(&self) -> EmailAccountInput {
        EmailAccountInput {
            imap_host: "localhost".into(),
            imap_port: self.imaps_port,
            imap_security: Security::Tls,
            smtp_host: "localhost".into(),
            smtp_port: self.smtps_port,
            smtp_security: Security::Tls,
            ca_file: Some(self.ca_file().display().to_string()),
            ..self.account_input()
        }
    }

    /// An account over STARTTLS on the plain ports, trusting the test CA.
    pub fn account_input_starttls(&self) -> EmailAccountInput {
        EmailAccountInput {
            imap_host: "localhost".into(),
            imap_security: Security::Starttls,
            smtp_host: "localhost".into(),
            smtp_security: Security::Starttls,
            ca_file: Some(self.ca_file().display().to_string()),
            ..self.account_input()
        }
    }

    /// Makes the SMTP server answer every message with `reply` (e.g. `451 4.3.0 Try later`),
    /// or accept them again with `None`.
    pub fn smtp_fail_with(&self, reply: Option<&str>) {
        let fail = self.path("smtp").join("fail");
        match reply {
            Some(reply) => std::fs::write(fail, reply).unwrap(),
            None => {
                let _ = std::fs::remove_file(fail);
            }
        }
    }

    fn received_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path("smtp").join("received"))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
    }

    /// Every message the SMTP server accepted, oldest first.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received_files()
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }

    /// The SMTP envelope (MAIL FROM, then each RCPT TO) of every accepted message.
    pub fn received_envelopes(&self) -> Vec<Vec<String>> {
        self.received_files()
            .iter()
            .map(|p| {
                std::fs::read_to_string(p.with_extension("env"))
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect()
            })
            .collect()
    }

    /// Waits until the SMTP server has accepted at least `n` messages; returns them all.
    pub fn wait_received(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        wait_until(
            &format!("{n} message(s) at the SMTP server"),
            timeout,
            || {
                let got = self.received();
                (got.len() >= n).then_some(got)
            },
        )
    }

    /// Dovecot's log, for assertion messages.
    pub fn imap_log(&self) -> String {
        std::fs::read_to_string(self.path("dovecot.log")).unwrap_or_default()
    }

    /// How many logins Dovecot refused for a wrong password (its `auth_verbose` lines).
    pub fn refused_logins(&self) -> usize {
        self.imap_log()
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("password mismatch"))
            .count()
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        self.stop_imap();
        self.stop_smtp();
    }
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A plain-text customer message, as tests deliver them.
pub fn customer_mail(from: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: Negozio <{USER}>\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 09:15:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// `total` numbered customer messages, from `customers` different customers
/// (`cliente{i % customers}@example.com`): subject "`subject` {i}", Message-ID
/// `<{id_prefix}-{i}@example.com>`, body `body(i)`.
pub fn numbered_customer_mail(
    total: u32,
    customers: u32,
    subject: &str,
    id_prefix: &str,
    body: impl Fn(u32) -> String,
) -> Vec<Vec<u8>> {
    (0..total)
        .map(|i| {
            customer_mail(
                &format!("cliente{}@example.com", i % customers),
                &format!("{subject} {i}"),
                &format!("{id_prefix}-{i}@example.com"),
                &body(i),
            )
        })
        .collect()
}

/// The value of a raw message's first header called `name` (not unfolded).
pub fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    raw.split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// `bytes` in base64 as a MIME part carries them: lines of 76 characters.
pub fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    b64.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}
