//! TLS of PostgreSQL connections: the certificate files a URL names, read before connecting,
//! and failed handshakes told apart from unreachable servers. An untrusted or misnamed server
//! certificate, a server without TLS where TLS is required, or a client certificate the
//! server refuses are configuration errors (`tls-error`, exit 2): retrying cannot fix them,
//! and a Job that retries exit 3 would do so for ever.

use sqlx::postgres::PgSslMode;

use super::ConnectFailure;
use crate::db::DatabaseUrl;
use crate::db::url::ConnectTarget;
use crate::error::ErrorCode;

/// The certificate settings, as sqlx reads them: the URL's parameter (and its aliases), else
/// the libpq environment variable.
const FILE_SETTINGS: &[(&str, &[&str], &str)] = &[
    (
        "sslrootcert",
        &["sslrootcert", "ssl-root-cert", "ssl-ca"],
        "PGSSLROOTCERT",
    ),
    ("sslcert", &["sslcert", "ssl-cert"], "PGSSLCERT"),
    ("sslkey", &["sslkey", "ssl-key"], "PGSSLKEY"),
];

/// The certificate files the connection will read: `(setting, path)`. Inline PEM values are
/// not files and are left out.
fn files(url: &DatabaseUrl) -> Vec<(&'static str, String)> {
    let pairs: Vec<(String, String)> = url::Url::parse(url.expose())
        .map(|parsed| parsed.query_pairs().into_owned().collect())
        .unwrap_or_default();
    FILE_SETTINGS
        .iter()
        .filter_map(|(setting, keys, env)| {
            let value = pairs
                .iter()
                .rev()
                .find(|(key, _)| keys.contains(&key.as_str()))
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var(env).ok())?;
            let pem = value.trim().starts_with("-----BEGIN");
            (!pem).then_some((*setting, value))
        })
        .collect()
}

/// The mode to connect with: libpq's, where `sslmode=require` with a root certificate
/// (`sslrootcert`) verifies the server's certificate as `verify-ca` does. sqlx would not look
/// at the file at all, and a URL written for libpq would silently check nothing.
pub(super) fn effective_mode(url: &DatabaseUrl, mode: PgSslMode) -> PgSslMode {
    let root_given = files(url)
        .iter()
        .any(|(setting, _)| *setting == "sslrootcert");
    match mode {
        PgSslMode::Require if root_given => PgSslMode::VerifyCa,
        other => other,
    }
}

/// Checks, before connecting, that the certificate files exist and can be read, and that a
/// client certificate comes with its key: sqlx reports a missing file as a bare I/O error,
/// which would read as an unreachable server.
pub(super) fn check_files(url: &DatabaseUrl, mode: PgSslMode) -> Result<(), ConnectFailure> {
    if matches!(mode, PgSslMode::Disable | PgSslMode::Allow) {
        return Ok(());
    }
    let files = files(url);
    for (setting, path) in &files {
        if let Err(err) = std::fs::File::open(path) {
            return Err(input(
                format!(
                    "cannot read the {setting} file `{}`: {}",
                    crate::report::printable(path),
                    crate::error::io_reason(&err)
                ),
                "the certificate files are read by cargo-migrate on this machine: check the path (in a container, mount the file there)",
            ));
        }
    }
    let has = |name: &str| files.iter().any(|(setting, _)| *setting == name);
    if has("sslcert") != has("sslkey") {
        return Err(input(
            "a client certificate needs both sslcert and sslkey, and only one is given".to_string(),
            "pass the certificate in `sslcert=` and its private key in `sslkey=`",
        ));
    }
    Ok(())
}

/// A failed connection attempt that TLS explains, with the change that fixes it; `None` when
/// TLS is not the cause.
pub(super) fn failure(
    err: &sqlx::Error,
    url: &DatabaseUrl,
    mode: PgSslMode,
) -> Option<ConnectFailure> {
    let has = |name: &str| files(url).iter().any(|(setting, _)| *setting == name);
    match err {
        sqlx::Error::Tls(source)
            if source.to_string().contains("does not support TLS")
                && matches!(url.connect_target(), ConnectTarget::Socket { .. }) =>
        {
            Some(input(
                format!(
                    "PostgreSQL offers no TLS on a Unix-domain socket, and sslmode={} requires it",
                    mode_name(mode)
                ),
                "use sslmode=disable (or prefer) for a socket, which never leaves this machine; keep verify-full for TCP connections",
            ))
        }
        sqlx::Error::Tls(source) if source.to_string().contains("does not support TLS") => {
            Some(input(
                format!(
                    "the server does not offer TLS, and sslmode={} requires it",
                    mode_name(mode)
                ),
                "turn TLS on at the server (ssl = on with a certificate), or connect to the endpoint that offers it (a managed service's TLS port); sslmode=prefer falls back to plain text, only for trusted networks",
            ))
        }
        sqlx::Error::Tls(source) => Some(input(
            format!(
                "TLS failed: {}",
                super::without_source_location(&source.to_string())
            ),
            "check the sslmode, sslrootcert, sslcert and sslkey settings",
        )),
        sqlx::Error::Io(io) => {
            let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
            Some(rustls_failure(tls, url, has("sslrootcert"), has("sslcert")))
        }
        // pg_hba.conf decided: the user may log in only over TLS, or only with a certificate.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("28000") => {
            let message = db.message();
            if message.ends_with("no encryption") {
                Some(input(
                    format!("the server accepts this user only over TLS ({message})"),
                    "use sslmode=verify-full with `sslrootcert=` naming the server's CA (or sslmode=require)",
                ))
            } else if message.contains("client certificate")
                || message.contains("certificate authentication")
            {
                Some(input(
                    format!("the server requires a client certificate for this user ({message})"),
                    "pass a certificate whose CN is the user name, signed by a CA the server trusts (its ssl_ca_file), in `sslcert=` and its key in `sslkey=`",
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn rustls_failure(
    err: &rustls::Error,
    url: &DatabaseUrl,
    root_given: bool,
    client_cert_given: bool,
) -> ConnectFailure {
    use rustls::{AlertDescription, CertificateError};
    match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => input(
            if root_given {
                "the server's certificate is not signed by the CA in sslrootcert".to_string()
            } else {
                "the server's certificate is not signed by a CA this machine trusts".to_string()
            },
            "pass `sslrootcert=` with the CA that signed it (the CA file your provider or your cluster's operator hands out)",
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => input(
            format!(
                "the server's certificate does not name the host the URL connects to ({})",
                url.endpoint()
            ),
            "connect with a host name the certificate names (its subjectAltName), or use sslmode=verify-ca, which checks the CA but not the name",
        ),
        rustls::Error::InvalidCertificate(other) => input(
            format!(
                "the server's certificate was refused: {}",
                rustls::Error::InvalidCertificate(other.clone())
            ),
            "the server needs a valid certificate (check its dates and that it is meant for a server); renew it at the server",
        ),
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure,
        ) if !client_cert_given => input(
            "the server requires a client certificate".to_string(),
            "pass a certificate whose CN is the user name, signed by a CA the server trusts (its ssl_ca_file), in `sslcert=` and its key in `sslkey=`",
        ),
        rustls::Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError,
        ) if client_cert_given => input(
            format!("the server refused the client certificate in sslcert ({err})"),
            "use a certificate signed by a CA the server trusts (its ssl_ca_file) and not expired, with its own key in `sslkey=`",
        ),
        other => input(
            format!("the TLS handshake failed: {other}"),
            "check the sslmode, sslrootcert, sslcert and sslkey settings against the server's TLS configuration",
        ),
    }
}

fn input(reason: String, hint: &'static str) -> ConnectFailure {
    ConnectFailure {
        reason,
        retryable: false,
        hint: Some(hint),
        input: Some(ErrorCode::TlsError),
    }
}

fn mode_name(mode: PgSslMode) -> &'static str {
    // (PgSslMode has no Display.)
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libpq's rule: `require` with a root certificate verifies the chain; every other mode
    /// stays as written. (The URLs name their files, so PGSSLROOTCERT does not matter.)
    #[test]
    fn require_with_a_root_certificate_verifies_the_chain() {
        let table: &[(&str, PgSslMode, PgSslMode)] = &[
            (
                "sslrootcert=/ca.crt",
                PgSslMode::Require,
                PgSslMode::VerifyCa,
            ),
            (
                "ssl-root-cert=/ca.crt",
                PgSslMode::Require,
                PgSslMode::VerifyCa,
            ),
            ("sslrootcert=/ca.crt", PgSslMode::Prefer, PgSslMode::Prefer),
            (
                "sslrootcert=/ca.crt",
                PgSslMode::VerifyFull,
                PgSslMode::VerifyFull,
            ),
            (
                "sslrootcert=/ca.crt",
                PgSslMode::Disable,
                PgSslMode::Disable,
            ),
        ];
        for (query, mode, effective) in table {
            let url = DatabaseUrl::parse(&format!("postgres://u@db.invalid/app?{query}"), "test")
                .expect("a valid URL");
            // PgSslMode has no PartialEq: compare the names.
            assert_eq!(
                mode_name(effective_mode(&url, *mode)),
                mode_name(*effective),
                "{query} {mode:?}"
            );
        }
    }
}
