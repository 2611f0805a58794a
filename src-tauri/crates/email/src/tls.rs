//! TLS for IMAP: the system's trusted roots (as lettre uses for SMTP, so both connections of an
//! account trust the same servers) plus the account's optional extra CA file.

use std::path::Path;
use std::sync::Arc;

use sportello_core::{Error, ErrorCode, Result};
use tokio_rustls::rustls::{self, ClientConfig, pki_types::CertificateDer};

/// Reads every certificate of a PEM file; a file without one is an error.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "cannot read the CA certificate file {}: {e}",
            path.display()
        ))
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid(format!(
                "the CA certificate file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "the CA certificate file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

pub fn client_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>> {
    let extra = match ca_file {
        Some(path) if !path.is_empty() => read_ca_file(Path::new(path))?,
        _ => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()).map_err(
            |e| {
                Error::new(
                    ErrorCode::Tls,
                    format!("cannot load the trusted certificates: {e}"),
                )
            },
        )?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorCode::Tls, format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether an I/O error from a TLS stream is the handshake failing (certificate, protocol).
pub fn is_tls_io_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        || e.kind() == std::io::ErrorKind::InvalidData
}

/// A human sentence for a failed handshake.
pub fn tls_error(server: &str, e: &std::io::Error) -> Error {
    let detail = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(describe_rustls)
        .unwrap_or_else(|| e.to_string());
    Error::new(
        ErrorCode::Tls,
        format!("secure connection to {server} failed: {detail}"),
    )
}

fn describe_rustls(e: &rustls::Error) -> String {
    use rustls::{CertificateError, Error as E};
    match e {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted authority (for a self-hosted \
             server, add its CA certificate file)"
                .into()
        }
        E::InvalidCertificate(CertificateError::NotValidForName)
        | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate is for a different host name".into()
        }
        E::InvalidCertificate(CertificateError::Expired)
        | E::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        other => other.to_string(),
    }
}
