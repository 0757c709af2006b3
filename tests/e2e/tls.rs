//! TLS end to end: a throw-away cluster listening on a loopback address of its own with
//! `ssl = on` and a certificate from a CA this test generates (the `openssl` CLI), and the real
//! binary connecting with every `sslmode`, `sslrootcert` and client certificates. Failures
//! that only a change of configuration fixes (an untrusted or misnamed server certificate, a
//! server without TLS, a refused client certificate) exit 2 with `tls-error`, not 3: a Job
//! must not retry them for ever.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use cargo_migrate::sandbox::local::LocalOptions;
use support::{Outcome, Pg, Workspace};

/// A loopback address no other test uses at once (all of 127.0.0.0/8 reaches `lo`).
fn loopback_address() -> IpAddr {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(2);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    loop {
        let candidate = IpAddr::V4(Ipv4Addr::new(
            127,
            (pid % 200) as u8 + 20,
            (nanos % 250) as u8 + 1,
            NEXT.fetch_add(1, Ordering::Relaxed).max(2),
        ));
        // Free on port 5432? (A listener of ours is dropped at once.)
        if std::net::TcpListener::bind((candidate, 5432)).is_ok() {
            return candidate;
        }
    }
}

/// Runs `openssl ARGS` in `dir`.
#[track_caller]
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and certificates signed by it, in a temp directory: `<name>.crt` and `<name>.key`.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("cargo-migrate-tls-")
            .tempdir()
            .expect("temp dir");
        let certs = Certs { dir };
        certs.ca("ca");
        certs.ca("other-ca");
        certs
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).to_string_lossy().into_owned()
    }

    /// A self-signed CA (P-256, one day).
    fn ca(&self, name: &str) {
        openssl(
            self.dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=cargo-migrate test {name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
    }

    /// A leaf certificate `name` for `subject` signed by `ca`, with the extensions `ext`
    /// (`subjectAltName=…`, `extendedKeyUsage=…`).
    fn leaf(&self, name: &str, subject: &str, ca: &str, ext: &str) {
        let dir = self.dir.path();
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={subject}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("basicConstraints=CA:FALSE\n{ext}\n"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.crt"),
            ],
        );
    }
}

/// A cluster on a loopback address of its own, `ssl = on` with `server.crt` (for `address`,
/// signed by `ca`) and client certificates checked against `ca`. pg_hba: `certuser` logs in
/// with a client certificate only, `tlsonly` over TLS only, everyone else over either.
struct TlsCluster {
    pg: Pg,
    address: IpAddr,
    certs: Certs,
}

impl TlsCluster {
    fn start() -> Option<TlsCluster> {
        let address = loopback_address();
        let pg = support::postgres_with(LocalOptions {
            listen: Some(address),
            ..LocalOptions::default()
        })?;
        let certs = Certs::new();
        let san = format!("subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth");
        certs.leaf("server", "server", "ca", &san);
        // The same address, but a certificate for another one: a name mismatch.
        certs.leaf(
            "misnamed",
            "server",
            "ca",
            "subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth",
        );
        certs.leaf("client", "certuser", "ca", "extendedKeyUsage=clientAuth");
        certs.leaf(
            "stranger",
            "certuser",
            "other-ca",
            "extendedKeyUsage=clientAuth",
        );
        // The client reads its key as the user running the tests; the server its own.
        let cluster = TlsCluster { pg, address, certs };
        for file in [
            "server.crt",
            "server.key",
            "misnamed.crt",
            "misnamed.key",
            "ca.crt",
        ] {
            cluster.give_server(file);
        }
        let admin = cluster.pg.server.url();
        cluster
            .pg
            .execute(&admin, "CREATE ROLE certuser LOGIN SUPERUSER");
        cluster
            .pg
            .execute(&admin, "CREATE ROLE tlsonly LOGIN SUPERUSER");
        let hba = cluster.pg.server.data_dir().join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(
            &hba,
            format!(
                "hostssl all certuser 127.0.0.0/8 cert\n\
                 hostnossl all tlsonly 127.0.0.0/8 reject\n\
                 host all all 127.0.0.0/8 trust\n{rules}"
            ),
        )
        .expect("write pg_hba.conf");
        cluster.set_server_cert(Some("server"));
        Some(cluster)
    }

    /// Copies a file of the certificates into the data directory, owned by the server's
    /// user, 0600 (PostgreSQL refuses a key others can read).
    fn give_server(&self, file: &str) {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let data = self.pg.server.data_dir();
        let owner = std::fs::metadata(data).expect("data dir");
        let target = data.join(file);
        std::fs::copy(self.certs.dir.path().join(file), &target).expect("copy into data dir");
        std::os::unix::fs::chown(&target, Some(owner.uid()), Some(owner.gid())).expect("chown");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    /// Serves `name.crt`/`name.key` (TLS on), or no TLS at all (`None`), and waits until the
    /// server answers so.
    fn set_server_cert(&self, name: Option<&str>) {
        let admin = self.pg.server.url();
        let settings: Vec<String> = match name {
            Some(name) => vec![
                "ALTER SYSTEM SET ssl = on".into(),
                format!("ALTER SYSTEM SET ssl_cert_file = '{name}.crt'"),
                format!("ALTER SYSTEM SET ssl_key_file = '{name}.key'"),
                "ALTER SYSTEM SET ssl_ca_file = 'ca.crt'".into(),
            ],
            None => vec!["ALTER SYSTEM SET ssl = off".into()],
        };
        for statement in settings {
            self.pg.execute(&admin, &statement);
        }
        self.pg.execute(&admin, "SELECT pg_reload_conf()");
        // The postmaster reloads asynchronously: wait until TLS is (not) offered, and the
        // new certificate served.
        let probe = match name {
            Some(_) => format!(
                "{}&sslrootcert={}",
                self.url("postgres", "verify-ca"),
                self.certs.path("ca.crt")
            ),
            None => self.url("postgres", "disable"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ssl: Option<String> = self
                .pg
                .query(
                    &probe,
                    "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                )
                .first()
                .and_then(|row| row[0].clone());
            let served = self
                .pg
                .query(&admin, "SELECT current_setting('ssl_cert_file')");
            let want_ssl = if name.is_some() { "true" } else { "false" };
            let file_ok =
                name.is_none_or(|name| served[0][0].as_deref() == Some(&format!("{name}.crt")));
            if ssl.as_deref() == Some(want_ssl) && file_ok {
                // One more round for the certificate itself (reloaded with the settings).
                std::thread::sleep(std::time::Duration::from_millis(100));
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not reload TLS"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `postgres://user@address:5432/postgres?sslmode=MODE`.
    fn url(&self, user: &str, mode: &str) -> String {
        format!(
            "postgres://{user}@{}:5432/postgres?sslmode={mode}",
            self.address
        )
    }

    /// The outcome with the cluster's address and the certificates' directory as
    /// placeholders, for snapshots.
    fn clean(&self, outcome: &Outcome) -> String {
        outcome
            .snapshot()
            .replace(
                &self.certs.dir.path().to_string_lossy().to_string(),
                "[CERTS]",
            )
            .replace(&self.address.to_string(), "[ADDRESS]")
            .replace(
                &self.pg.server.socket_dir().to_string_lossy().to_string(),
                "[SOCKET]",
            )
    }
}

/// A workspace of one migration, run with `--dir`.
fn workspace() -> Workspace {
    let ws = Workspace::empty();
    let dir = ws.path().join("migrations/20240101000000_create_t");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("up.sql"),
        "CREATE TABLE IF NOT EXISTS t (id int);\n",
    )
    .unwrap();
    std::fs::write(dir.join("down.sql"), "DROP TABLE t;\n").unwrap();
    ws
}

fn run(ws: &Workspace, command: &str, url: &str) -> Outcome {
    let outcome = ws.run(&[
        command,
        "--dir",
        "migrations",
        "--dialect",
        "postgres",
        "--database-url",
        url,
    ]);
    assert!(
        !outcome.stderr.contains("panicked"),
        "{}",
        outcome.snapshot()
    );
    outcome
}

#[test]
fn every_sslmode_connects_and_tls_is_used_where_asked() {
    let Some(cluster) = TlsCluster::start() else {
        return;
    };
    let ws = workspace();
    let ca = cluster.certs.path("ca.crt");
    // `tlsonly` is refused without TLS: a successful run proves the connection used it.
    for (mode, extra, user) in [
        ("disable", String::new(), "postgres"),
        ("prefer", String::new(), "tlsonly"),
        ("require", String::new(), "tlsonly"),
        ("verify-ca", format!("&sslrootcert={ca}"), "tlsonly"),
        ("verify-full", format!("&sslrootcert={ca}"), "tlsonly"),
    ] {
        let url = format!("{}{extra}", cluster.url(user, mode));
        run(&ws, "up", &url).assert_code(0);
        run(&ws, "status", &url).assert_code(0);
    }
    // A client certificate: `certuser` may log in with nothing else.
    let url = format!(
        "{}&sslrootcert={ca}&sslcert={}&sslkey={}",
        cluster.url("certuser", "verify-full"),
        cluster.certs.path("client.crt"),
        cluster.certs.path("client.key"),
    );
    run(&ws, "status", &url).assert_code(0);
}

#[test]
fn tls_failures_are_configuration_errors_with_a_hint_that_fixes_them() {
    let Some(cluster) = TlsCluster::start() else {
        return;
    };
    let ws = workspace();
    let ca = cluster.certs.path("ca.crt");
    let mut report = String::new();
    let mut case = |title: &str, url: String| {
        let outcome = run(&ws, "up", &url);
        assert_eq!(outcome.code, 2, "{title}: {}", outcome.snapshot());
        let json = ws.run(&[
            "status",
            "--format",
            "json",
            "--dir",
            "migrations",
            "--dialect",
            "postgres",
            "--database-url",
            &url,
        ]);
        assert_eq!(
            json.json()["error"]["code"],
            "tls-error",
            "{title}: {}",
            json.snapshot()
        );
        report.push_str(&format!("## {title}\n{}\n", cluster.clean(&outcome)));
    };
    case(
        "untrusted server certificate (no sslrootcert)",
        cluster.url("postgres", "verify-full"),
    );
    case(
        "untrusted server certificate (another CA)",
        format!(
            "{}&sslrootcert={}",
            cluster.url("postgres", "verify-ca"),
            cluster.certs.path("other-ca.crt")
        ),
    );
    // As in libpq, `require` with a root certificate verifies the chain (sqlx alone would not).
    case(
        "sslmode=require with an sslrootcert of another CA",
        format!(
            "{}&sslrootcert={}",
            cluster.url("postgres", "require"),
            cluster.certs.path("other-ca.crt")
        ),
    );
    case(
        "client certificate signed by a CA the server does not trust",
        format!(
            "{}&sslrootcert={ca}&sslcert={}&sslkey={}",
            cluster.url("certuser", "verify-full"),
            cluster.certs.path("stranger.crt"),
            cluster.certs.path("stranger.key"),
        ),
    );
    case(
        "no client certificate where the server requires one",
        format!(
            "{}&sslrootcert={ca}",
            cluster.url("certuser", "verify-full")
        ),
    );
    case(
        "the server accepts this user over TLS only",
        cluster.url("tlsonly", "disable"),
    );
    case(
        "sslrootcert names no file",
        format!(
            "{}&sslrootcert={}",
            cluster.url("postgres", "verify-full"),
            cluster.certs.path("nosuch.crt")
        ),
    );
    // The cluster's Unix socket never offers TLS.
    case(
        "sslmode=require on a Unix-domain socket",
        cluster
            .pg
            .server
            .url()
            .replace("sslmode=disable", "sslmode=require"),
    );
    // The certificate of another address.
    cluster.set_server_cert(Some("misnamed"));
    case(
        "host name not in the server certificate",
        format!(
            "{}&sslrootcert={ca}",
            cluster.url("postgres", "verify-full")
        ),
    );
    // verify-ca does not check the name: it connects.
    run(
        &ws,
        "status",
        &format!("{}&sslrootcert={ca}", cluster.url("postgres", "verify-ca")),
    )
    .assert_code(0);
    cluster.set_server_cert(None);
    case(
        "server without TLS, TLS required",
        cluster.url("postgres", "require"),
    );
    // prefer falls back to plain text.
    run(&ws, "status", &cluster.url("postgres", "prefer")).assert_code(0);
    insta::assert_snapshot!(report);
}
