//! `tlsm cert generate`: a throwaway CA with a server and a client certificate on disk, for
//! local testing with tlsm, openssl or curl. Made by the library's `pki` module (rcgen).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use tlsmachine::pki::GeneratedPki;

use crate::common::{parse_key_type, CliError, CliResult};

pub fn generate(out: &Path, names: &str, key_type: &str, force: bool) -> CliResult<()> {
    let key_type = parse_key_type(key_type)?;
    let names: Vec<String> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err("--names: give at least one DNS name or IP address".into());
    }
    let pki = GeneratedPki::generate(key_type, &names)
        .map_err(|e| CliError(format!("generating certificates: {e}")))?;

    std::fs::create_dir_all(out)
        .map_err(|e| CliError(format!("creating {}: {e}", out.display())))?;
    let files = [
        ("ca.pem", &pki.ca_pem, false),
        ("ca.key", &pki.ca_key_pem, true),
        ("server.pem", &pki.server_chain_pem, false),
        ("server.key", &pki.server_key_pem, true),
        ("client.pem", &pki.client_chain_pem, false),
        ("client.key", &pki.client_key_pem, true),
    ];
    // Check every file first, so a refusal never leaves a half-replaced set behind.
    if !force {
        if let Some((name, _, _)) = files.iter().find(|(name, _, _)| out.join(name).exists()) {
            return Err(format!(
                "{} already exists; pass --force to overwrite",
                out.join(name).display()
            )
            .into());
        }
    }
    for (name, body, secret) in files {
        write_file(&out.join(name), body.as_bytes(), secret)?;
    }
    eprintln!(
        "wrote ca.pem ca.key server.pem server.key client.pem client.key to {} ({}, server names: {})",
        out.display(),
        key_type.name(),
        names.join(",")
    );
    eprintln!(
        "try: tlsm server --listen 127.0.0.1:4433 --cert {0}/server.pem --key {0}/server.key",
        out.display()
    );
    Ok(())
}

/// Private keys are created readable by their owner only.
fn write_file(path: &Path, body: &[u8], secret: bool) -> CliResult<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .map_err(|e| CliError(format!("writing {}: {e}", path.display())))?;
    // `mode` applies only to new files; a key overwritten with --force is narrowed too.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CliError(format!("restricting {}: {e}", path.display())))?;
    }
    file.write_all(body)
        .map_err(|e| CliError(format!("writing {}: {e}", path.display())))
}
