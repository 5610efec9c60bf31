//! Where `tlsm server` keeps sessions and ticket keys: in its own memory (the default), or
//! in Redis (`--session-store`), shared by a fleet of servers behind one load balancer so
//! that a client resumes on whichever server it reaches next.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tlsmachine::session::ticket::{DEFAULT_ROTATION, MAX_ROTATION};
use tlsmachine::session::Ticketer;
use tlsmachine::{LocalError, ServerConfig};
use tlsmachine_redis::{FleetSecret, RedisConfig, RedisStore, Reporter};

use crate::common::{CliError, CliResult};
use crate::server::parse_duration;

/// A failing store writes one line per kind of failure at most this often: a Redis that is
/// down must neither flood the log with a line per handshake nor go unnoticed.
const REPORT_PERIOD: Duration = Duration::from_secs(60);

/// A session lookup waits at most this long whatever `--store-timeout` says: well under
/// the acceptor's pause timeout, past which the handshake would fail instead of going on
/// as a full one.
const MAX_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The session flags of `tlsm server`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Keep sessions and ticket keys in Redis (redis://HOST:PORT[/DB]), shared by every
    /// server given the same URL, fleet secret and prefix: a client resumes on whichever
    /// of them it reaches. Needs --fleet-secret.
    #[arg(long, value_name = "URL")]
    pub session_store: Option<String>,
    /// File holding the fleet's secret: at least 32 random bytes, the same on every server.
    /// Sessions and ticket keys are sealed under it in Redis.
    #[arg(long, value_name = "FILE", requires = "session_store")]
    pub fleet_secret: Option<PathBuf>,
    /// Prefix of every key the fleet writes in Redis (default: tlsmachine), so that
    /// several fleets can share one Redis.
    #[arg(long, value_name = "NAME", requires = "session_store")]
    pub fleet_prefix: Option<String>,
    /// Longest wait for a session from Redis; past it the handshake goes on as a full one.
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_store_timeout,
          requires = "session_store")]
    pub store_timeout: Duration,
    /// Ticket keys change every DURATION, in whole seconds (default: 12h); a ticket still
    /// opens during the period after its key's. With --session-store the fleet rotates its
    /// shared keys at this period: give every server the same.
    #[arg(long, value_name = "DURATION", value_parser = parse_rotation)]
    pub ticket_rotation: Option<Duration>,
}

fn parse_store_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout.is_zero() || timeout > MAX_STORE_TIMEOUT {
        return Err(format!(
            "expected a duration above 0 and at most {}s, got '{text}'",
            MAX_STORE_TIMEOUT.as_secs()
        ));
    }
    Ok(timeout)
}

fn parse_rotation(text: &str) -> Result<Duration, String> {
    let rotation = parse_duration(text)?;
    if rotation.subsec_nanos() != 0 || rotation.is_zero() || rotation > MAX_ROTATION {
        return Err(format!(
            "expected whole seconds from 1s to {}h, got '{text}'",
            MAX_ROTATION.as_secs() / 3600
        ));
    }
    Ok(rotation)
}

/// What the server needs to know about its sessions once the config is built.
pub struct Sessions {
    /// The fleet's store, which the acceptor awaits at CHECK_SESSION_CACHE; `None` when
    /// sessions stay in this process.
    pub redis: Option<Arc<RedisStore>>,
    /// Where sessions live, for the banner.
    pub description: String,
}

impl Sessions {
    /// `--no-resumption`: nothing is kept.
    pub fn none() -> Self {
        Self {
            redis: None,
            description: "no resumption: no session cache, no tickets".into(),
        }
    }
}

/// Sets up `config`'s session store and ticketer from the flags. `early_data`: the server
/// accepts 0-RTT data.
pub fn configure(
    args: &FleetArgs,
    config: &mut ServerConfig,
    early_data: bool,
) -> CliResult<Sessions> {
    let rotation = args.ticket_rotation.unwrap_or(DEFAULT_ROTATION);
    let Some(url) = &args.session_store else {
        config.ticketer = Some(Arc::new(Ticketer::new(rotation).map_err(message)?));
        return Ok(Sessions {
            redis: None,
            description: format!(
                "sessions in this process only; ticket keys rotated every {}",
                duration_text(rotation)
            ),
        });
    };
    if !url.starts_with("redis://") {
        return Err(
            format!("--session-store: expected redis://HOST:PORT[/DB], got '{url}'").into(),
        );
    }
    let Some(secret_file) = &args.fleet_secret else {
        return Err(
            "--session-store needs --fleet-secret FILE: at least 32 random bytes, the \
                    same on every server, that seal sessions and ticket keys in Redis (make \
                    one with: head -c 32 /dev/urandom > fleet.key)"
                .into(),
        );
    };
    let secret = FleetSecret::from_file(secret_file)
        .map_err(|e| CliError(format!("--fleet-secret: {}", message(e))))?;
    let mut redis = RedisConfig::new(url, secret);
    if let Some(prefix) = &args.fleet_prefix {
        redis.prefix = prefix.clone();
    }
    redis.lookup_timeout = args.store_timeout;
    redis.session_ttl = config.session_lifetime;
    redis.reporter = Reporter::new(REPORT_PERIOD, |failure, detail| {
        eprintln!("tlsm server: session store: {}: {detail}", failure.name())
    });
    let description = format!(
        "sessions and ticket keys in Redis at {} (prefix {}), shared with the fleet; ticket \
         keys rotated every {}{}",
        without_password(url),
        redis.prefix,
        duration_text(rotation),
        if early_data {
            "; 0-RTT tickets single-use across the fleet"
        } else {
            ""
        },
    );
    let store = RedisStore::connect(redis)
        .map_err(|e| CliError(format!("--session-store: {}", message(e))))?;
    let ticketer = Arc::new(Ticketer::shared(rotation).map_err(message)?);
    store.share_ticket_keys(ticketer.clone(), rotation);
    config.session_store = Some(store.clone());
    config.ticketer = Some(ticketer);
    // A ticket sealed under the shared keys opens on every server, so its 0-RTT data could
    // be replayed to each of them; a single-use ticket, taken out of Redis by the server
    // that accepts it, carries early data once in the whole fleet.
    config.stateful_tickets = early_data;
    Ok(Sessions {
        redis: Some(store),
        description,
    })
}

/// The text of a configuration error without the "configuration error:" the library puts
/// in front: the flag it concerns says that better.
fn message(e: LocalError) -> String {
    match e {
        LocalError::Config(text) => text,
        other => other.to_string(),
    }
}

/// The URL as the banner may show it: a password in it stays out of the log.
fn without_password(url: &str) -> String {
    let rest = url.trim_start_matches("redis://");
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("redis://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// `12h`, `5m`, `90s`: a rotation period as people write it.
fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_whole_seconds_within_bounds() {
        assert_eq!(parse_rotation("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_rotation("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(parse_rotation("1.5s").is_err());
        assert!(parse_rotation("0").is_err());
        assert!(parse_rotation("200h").is_err());
    }

    #[test]
    fn store_timeout_stays_below_the_pause_timeout() {
        assert_eq!(parse_store_timeout("50ms"), Ok(Duration::from_millis(50)));
        assert!(parse_store_timeout("0ms").is_err());
        assert!(parse_store_timeout("10s").is_err());
    }

    #[test]
    fn the_banner_shows_no_redis_password() {
        assert_eq!(
            without_password("redis://:hunter2@10.0.0.5:6379/2"),
            "redis://10.0.0.5:6379/2"
        );
        assert_eq!(
            without_password("redis://user:p@ss@host:1"),
            "redis://host:1"
        );
        assert_eq!(
            without_password("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn rotation_periods_read_as_written() {
        assert_eq!(duration_text(Duration::from_secs(12 * 3600)), "12h");
        assert_eq!(duration_text(Duration::from_secs(300)), "5m");
        assert_eq!(duration_text(Duration::from_secs(2)), "2s");
    }
}
