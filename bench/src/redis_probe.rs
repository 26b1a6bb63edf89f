//! Counting what a bot asks of Redis.
//!
//! Two methods, reported side by side:
//!
//! - [`command_stats`]: `INFO commandstats` on the server, before and after a window; the
//!   delta of `calls` per command divided by the updates completed in the window. It sees
//!   every client of that Redis, so it is exact only when nothing else uses the server.
//! - [`RespProxy`]: a TCP proxy in front of Redis that parses the RESP commands the bot
//!   sends and counts *round trips*: a round trip is a burst of client bytes sent while no
//!   answer is pending, ended by the server's answer. A pipeline or MULTI…EXEC sent in one
//!   go is one round trip; two `GET`s awaited one after the other are two. The count is
//!   exact when one update is in flight at a time (the calibration run drives a single
//!   user), since concurrent updates would share bursts on a multiplexed connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Calls per command name (lower case).
pub type CommandCounts = BTreeMap<String, u64>;

/// Reads `INFO commandstats`: calls per command.
///
/// # Errors
///
/// Redis is unreachable.
pub async fn command_stats(
    conn: &mut redis::aio::MultiplexedConnection,
) -> anyhow::Result<CommandCounts> {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .context("INFO commandstats")?;
    Ok(parse_commandstats(&text))
}

/// Parses `cmdstat_<name>:calls=<n>,…` lines.
pub fn parse_commandstats(text: &str) -> CommandCounts {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("cmdstat_")?;
            let (name, fields) = rest.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_ascii_lowercase(), calls))
        })
        .collect()
}

/// `after − before` per command, leaving out zeros and the probe's own `info`.
pub fn delta(before: &CommandCounts, after: &CommandCounts) -> CommandCounts {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .filter_map(|(name, &n)| {
            let d = n.saturating_sub(before.get(name).copied().unwrap_or(0));
            (d > 0).then(|| (name.clone(), d))
        })
        .collect()
}

/// Deletes every key starting with `prefix` (SCAN + UNLINK, bounded to 60 s).
///
/// # Errors
///
/// Redis is unreachable.
pub async fn delete_prefix(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> anyhow::Result<u64> {
    let pattern = format!("{prefix}*");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut cursor: u64 = 0;
    let mut deleted = 0u64;
    for _ in 0..1_000_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(2000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK").arg(&keys).query_async(conn).await?;
            deleted += n;
        }
        cursor = next;
        if cursor == 0 || Instant::now() >= deadline {
            break;
        }
    }
    Ok(deleted)
}

/// What the proxy counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyCounts {
    /// Commands by name (lower case).
    pub commands: CommandCounts,
    /// Request/answer round trips.
    pub round_trips: u64,
    /// Of those, a queue worker's claim alone (a script whose first key is a queue's
    /// `…outbox:due` or `…relay:due`): the delivery and relay workers poll their queues
    /// on their own clock, not for an update.
    pub queue_claims: u64,
}

impl ProxyCounts {
    /// All commands.
    pub fn total_commands(&self) -> u64 {
        self.commands.values().sum()
    }

    /// `self − earlier`.
    pub fn since(&self, earlier: &ProxyCounts) -> ProxyCounts {
        ProxyCounts {
            commands: self
                .commands
                .iter()
                .filter_map(|(k, &v)| {
                    let d = v.saturating_sub(earlier.commands.get(k).copied().unwrap_or(0));
                    (d > 0).then(|| (k.clone(), d))
                })
                .collect(),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
            queue_claims: self.queue_claims.saturating_sub(earlier.queue_claims),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    commands: Mutex<CommandCounts>,
    queue_claims: AtomicU64,
    round_trips: AtomicU64,
}

/// A counting TCP proxy in front of Redis on 127.0.0.1.
#[derive(Debug)]
pub struct RespProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RespProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RespProxy {
    /// Listens on a fresh 127.0.0.1 port and forwards each connection to `upstream`.
    ///
    /// # Errors
    ///
    /// The port cannot be bound.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let for_task = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let shared = Arc::clone(&for_task);
                conns.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pump(client, server, shared).await;
                    }
                });
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The counts so far.
    pub fn counts(&self) -> ProxyCounts {
        ProxyCounts {
            commands: self
                .shared
                .commands
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            round_trips: self.shared.round_trips.load(Ordering::Relaxed),
            queue_claims: self.shared.queue_claims.load(Ordering::Relaxed),
        }
    }
}

async fn pump(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let awaiting = Arc::new(AtomicBool::new(false));
    let up_awaiting = Arc::clone(&awaiting);
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut parser = RespParser::default();
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let starts_round_trip = !up_awaiting.swap(true, Ordering::AcqRel);
            if starts_round_trip {
                shared.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            let parsed = parser.feed_with_keys(&buf[..n]);
            if starts_round_trip && parsed.len() == 1 && is_queue_claim(&parsed[0]) {
                shared.queue_claims.fetch_add(1, Ordering::Relaxed);
            }
            let names: Vec<String> = parsed.into_iter().map(|(name, _)| name).collect();
            if !names.is_empty() {
                let mut commands = shared
                    .commands
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                for name in names {
                    *commands.entry(name).or_default() += 1;
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            awaiting.store(false, Ordering::Release);
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

/// Incremental parser of the commands a client sends (RESP arrays of bulk strings, or
/// inline commands); yields each command's name.
#[derive(Debug, Default)]
pub struct RespParser {
    buf: Vec<u8>,
}

fn line_at(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rel = buf.get(from..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[from..from + rel], from + rel + 2))
}

fn number(bytes: &[u8]) -> Option<usize> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// Whether a command is a queue worker's claim: a script whose first key is a queue's due set.
fn is_queue_claim((name, first_key): &(String, Option<String>)) -> bool {
    matches!(name.as_str(), "evalsha" | "eval")
        && first_key
            .as_deref()
            .is_some_and(|k| k.ends_with("outbox:due") || k.ends_with("relay:due"))
}

impl RespParser {
    /// Adds bytes; returns the names (lower case) of the commands completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.feed_with_keys(bytes)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// Adds bytes; returns each completed command's name (lower case) and, for `EVAL` and
    /// `EVALSHA`, its first key.
    pub fn feed_with_keys(&mut self, bytes: &[u8]) -> Vec<(String, Option<String>)> {
        self.buf.extend_from_slice(bytes);
        let mut names = Vec::new();
        let mut pos = 0;
        while pos < self.buf.len() {
            match self.command_at(pos) {
                Some((name, key, next)) => {
                    if let Some(name) = name {
                        names.push((name, key));
                    }
                    pos = next;
                }
                None => break,
            }
        }
        self.buf.drain(..pos);
        names
    }

    /// Parses one command at `pos`: `(name, first key of a script, position after it)`,
    /// `None` if incomplete.
    fn command_at(&self, pos: usize) -> Option<(Option<String>, Option<String>, usize)> {
        let buf = &self.buf;
        if buf[pos] != b'*' {
            let (line, next) = line_at(buf, pos)?;
            let name = String::from_utf8_lossy(line)
                .split_whitespace()
                .next()
                .map(str::to_ascii_lowercase);
            return Some((name, None, next));
        }
        let (head, mut at) = line_at(buf, pos + 1)?;
        let argc = number(head)?;
        let mut name = None;
        let mut key = None;
        for i in 0..argc {
            if *buf.get(at)? != b'$' {
                return Some((None, None, at));
            }
            let (len, data) = line_at(buf, at + 1)?;
            let len = number(len)?;
            let end = data + len + 2;
            if buf.len() < end {
                return None;
            }
            if i == 0 {
                name = Some(String::from_utf8_lossy(&buf[data..data + len]).to_ascii_lowercase());
            }
            // EVALSHA sha numkeys key1 …
            if i == 3 {
                key = Some(String::from_utf8_lossy(&buf[data..data + len]).into_owned());
            }
            at = end;
        }
        Some((name, key, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_claim_is_told_apart_by_its_first_key() {
        let mut p = RespParser::default();
        let claim = b"*7\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n4\r\n$14\r\nbot:outbox:due\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";
        let parsed = p.feed_with_keys(claim);
        assert_eq!(parsed.len(), 1);
        assert!(is_queue_claim(&parsed[0]));
        let commit = b"*4\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$13\r\nbot:session:7\r\n";
        let parsed = p.feed_with_keys(commit);
        assert!(!is_queue_claim(&parsed[0]));
    }

    #[test]
    fn commands_split_across_reads_are_counted_once() {
        let mut p = RespParser::default();
        let wire = b"*2\r\n$3\r\nGET\r\n$5\r\nk:one\r\n*1\r\n$5\r\nMULTI\r\n*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n$2\r\nEX\r\n";
        let mut names = Vec::new();
        for chunk in wire.chunks(7) {
            names.extend(p.feed(chunk));
        }
        assert_eq!(names, ["get", "multi", "set"]);
        assert_eq!(p.feed(b"PING\r\n"), ["ping"]);
    }

    #[test]
    fn commandstats_are_parsed_and_differenced() {
        let before = parse_commandstats(
            "# Commandstats\r\ncmdstat_get:calls=10,usec=5,usec_per_call=0.5\r\ncmdstat_info:calls=1,usec=1\r\n",
        );
        let after = parse_commandstats(
            "cmdstat_get:calls=14,usec=9\r\ncmdstat_set:calls=2,usec=1\r\ncmdstat_info:calls=3,usec=1\r\n",
        );
        let d = delta(&before, &after);
        assert_eq!(d.get("get"), Some(&4));
        assert_eq!(d.get("set"), Some(&2));
        assert_eq!(d.get("info"), None);
    }
}
