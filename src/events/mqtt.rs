//! Events and counts out over MQTT (rumqttc): a bounded queue the main thread never waits on, and a connection
//! thread that reconnects with back-off, so a broker that is down never slows detection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS};

use crate::messages;

/// Events (and count updates) waiting while the broker is away; more are dropped, counted and said.
pub const QUEUE: usize = 1000;

/// `--mqtt mqtt://[user:pass@]host[:port]/PREFIX`.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttTarget {
    pub host: String,
    pub port: u16,
    user: Option<String>,
    password: Option<String>,
    pub prefix: String,
}

/// Never the password, also in `{:?}`.
impl std::fmt::Debug for MqttTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MqttTarget({})", self.masked())
    }
}

impl MqttTarget {
    pub fn parse(s: &str) -> anyhow::Result<MqttTarget> {
        let shown = crate::source::video::address::mask(s);
        let usage =
            || format!("--mqtt {shown}: give mqtt://[USER:PASSWORD@]HOST[:PORT]/PREFIX, e.g. mqtt://localhost/nasview");
        let Some(rest) = s.strip_prefix("mqtt://") else {
            if s.starts_with("mqtts://") {
                bail!("--mqtt {shown}: TLS (mqtts://) is not supported yet; use mqtt:// on a trusted network");
            }
            bail!("{}", usage());
        };
        let (authority, prefix) = rest.split_once('/').with_context(usage)?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() || prefix.contains(['#', '+']) {
            bail!("--mqtt {shown}: the topic prefix after the host must be a plain topic such as nasview or home/door");
        }
        let (login, hostport) = match authority.rsplit_once('@') {
            Some((login, hp)) => (Some(login), hp),
            None => (None, authority),
        };
        let (user, password) = match login {
            Some(l) => match l.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(l.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p > 0).with_context(usage)?),
            None => (hostport, 1883),
        };
        if host.is_empty() {
            bail!("{}", usage());
        }
        Ok(MqttTarget { host: host.to_string(), port, user, password, prefix: prefix.to_string() })
    }

    /// `mqtt://user:***@host:port/prefix`.
    pub fn masked(&self) -> String {
        let login = match (&self.user, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (Some(u), None) => format!("{u}@"),
            _ => String::new(),
        };
        format!("mqtt://{login}{}:{}/{}", self.host, self.port, self.prefix)
    }
}

/// What the connection thread saw, for the closing summary and the tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handed to the queue (QoS 1).
    pub queued: AtomicU64,
    /// Messages the queue had no room for.
    pub dropped: AtomicU64,
    /// Messages the broker acknowledged.
    pub delivered: AtomicU64,
    pub connected: AtomicBool,
    /// Times the broker went away (or refused us).
    pub outages: AtomicU64,
}

/// The publisher: `publish` and `retain` return at once, whatever the broker does.
pub struct Mqtt {
    client: Client,
    target: MqttTarget,
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    last_retained: std::collections::HashMap<String, String>,
}

impl Mqtt {
    pub fn start(target: &MqttTarget) -> anyhow::Result<Mqtt> {
        let status = format!("{}/status", target.prefix);
        let mut options = MqttOptions::new(format!("nasview-{}", std::process::id()), &target.host, target.port);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_last_will(LastWill::new(&status, "offline", QoS::AtLeastOnce, true));
        if let Some(user) = &target.user {
            options.set_credentials(user, target.password.clone().unwrap_or_default());
        }
        let (client, mut connection) = Client::new(options, QUEUE);
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_stats, thread_stop, thread_client, shown) =
            (stats.clone(), stop.clone(), client.clone(), target.masked());
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                let mut backoff = Duration::from_millis(500);
                let mut said_down = false;
                while !thread_stop.load(Ordering::Relaxed) {
                    match connection.recv_timeout(Duration::from_millis(200)) {
                        Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                            thread_stats.connected.store(true, Ordering::Relaxed);
                            backoff = Duration::from_millis(500);
                            if said_down {
                                messages::note(&format!("MQTT broker {shown} is back: sending what waited"));
                                said_down = false;
                            }
                            if thread_client.try_publish(&status, QoS::AtLeastOnce, true, "online").is_ok() {
                                thread_stats.queued.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                            thread_stats.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            if thread_stop.load(Ordering::Relaxed) {
                                break;
                            }
                            if thread_stats.connected.swap(false, Ordering::Relaxed) || !said_down {
                                thread_stats.outages.fetch_add(1, Ordering::Relaxed);
                            }
                            if !said_down {
                                messages::warn(&down_message(&shown, &e));
                                said_down = true;
                            }
                            // Sleep in slices so a quit is not held up by a long back-off.
                            let wake = Instant::now() + backoff;
                            while Instant::now() < wake && !thread_stop.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            backoff = (backoff * 2).min(Duration::from_secs(8));
                        }
                        // Timeout: nothing happened; the loop checks the stop flag.
                        Err(rumqttc::RecvTimeoutError::Timeout) => {}
                        Err(rumqttc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .context("cannot start the MQTT thread")?;
        Ok(Mqtt {
            client,
            target: target.clone(),
            stats,
            stop,
            thread: Some(thread),
            last_retained: Default::default(),
        })
    }

    fn send(&self, topic: &str, payload: String, retain: bool) {
        match self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
            Ok(()) => self.stats.queued.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// One event to `PREFIX/events` (QoS 1, not retained).
    pub fn publish_event(&self, json: String) {
        self.send(&format!("{}/events", self.target.prefix), json, false);
    }

    /// A retained state (`PREFIX/<topic>`), sent only when it changed.
    pub fn retain(&mut self, topic: &str, json: String) {
        if self.last_retained.get(topic) == Some(&json) {
            return;
        }
        self.send(&format!("{}/{topic}", self.target.prefix), json.clone(), true);
        self.last_retained.insert(topic.to_string(), json);
    }

    /// Says "offline", waits up to `grace` for what is queued to be delivered, then disconnects. Returns the
    /// closing summary line.
    pub fn finish(&mut self, grace: Duration) -> String {
        self.send(&format!("{}/status", self.target.prefix), "offline".into(), true);
        let t = Instant::now();
        while self.stats.connected.load(Ordering::Relaxed)
            && self.stats.delivered.load(Ordering::Relaxed) < self.stats.queued.load(Ordering::Relaxed)
            && t.elapsed() < grace
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.client.try_disconnect();
        std::thread::sleep(Duration::from_millis(50));
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let s = &self.stats;
        let (queued, delivered, dropped) =
            (s.queued.load(Ordering::Relaxed), s.delivered.load(Ordering::Relaxed), s.dropped.load(Ordering::Relaxed));
        let mut line = format!("MQTT {}: {delivered} of {queued} messages delivered", self.target.masked());
        if dropped > 0 {
            line.push_str(&format!(", {dropped} dropped (the queue of {QUEUE} was full while the broker was away)"));
        }
        line
    }
}

/// Why the broker is not reachable, said once per outage, with what to do.
fn down_message(shown: &str, e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => {
            format!(
                "MQTT broker {shown} refused the user name or password: check them in --mqtt; detection goes on, \
                 events wait (up to {QUEUE}) and nasview keeps trying"
            )
        }
        e => format!(
            "MQTT broker {shown} unreachable ({e}); detection goes on, events wait (up to {QUEUE}) and are sent when \
             it is back"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_never_show_the_password() {
        let t = MqttTarget::parse("mqtt://ha:hunter2@broker.local:1884/home/door").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.prefix.as_str()), ("broker.local", 1884, "home/door"));
        assert_eq!(t.masked(), "mqtt://ha:***@broker.local:1884/home/door");
        assert!(!format!("{t:?}").contains("hunter2"));
        let plain = MqttTarget::parse("mqtt://localhost/nasview").unwrap();
        assert_eq!((plain.port, plain.masked().as_str()), (1883, "mqtt://localhost:1883/nasview"));
        for bad in [
            "localhost/nasview",
            "mqtt://localhost",
            "mqtt://localhost/",
            "mqtt://h:0/x",
            "mqtt://h/a/#",
            "mqtts://h/x",
        ] {
            let e = MqttTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--mqtt"), "{bad}: {e}");
        }
        let e = MqttTarget::parse("mqtt://u:hunter2@h").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
