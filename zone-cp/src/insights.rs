//! What global learns of the zone's proxies: connected or not, the config version sent and
//! the one applied, the last rejection, the certificate's expiry. All of them after each
//! connect, then what changed, at most once a second (a burst of acknowledgements after a
//! policy change travels as one message per second, not one per proxy).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use weft_api::proto::{DataplaneInsight, DataplaneInsights, ZoneMessage, zone_message};

use crate::dataplanes::{Key, Sessions};

/// Most insights in one message (each is well under 2 KB, rejections being cut at 1 KB).
const PER_MESSAGE: usize = 2_000;
const PERIOD: Duration = Duration::from_secs(1);

fn snapshot(sessions: &Sessions) -> HashMap<Key, DataplaneInsight> {
    let sessions = sessions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    sessions
        .iter()
        .map(|(key, info)| {
            let insight = DataplaneInsight {
                mesh: key.0.clone(),
                name: key.1.clone(),
                connected: info.connected,
                config_version: info.config_version,
                acked_version: info.acked_version,
                rejection: info.last_rejection.clone().unwrap_or_default(),
                certificate_expires: info.certificate_expires.unwrap_or(0),
                removed: false,
            };
            (key.clone(), insight)
        })
        .collect()
}

/// What to send after `sent`, given `now`: changed and new sessions, and removals.
fn changes(
    sent: &HashMap<Key, DataplaneInsight>,
    now: &HashMap<Key, DataplaneInsight>,
) -> Vec<DataplaneInsight> {
    let mut out: Vec<DataplaneInsight> = now
        .iter()
        .filter(|(key, insight)| sent.get(*key) != Some(*insight))
        .map(|(_, insight)| insight.clone())
        .collect();
    out.extend(
        sent.keys()
            .filter(|key| !now.contains_key(*key))
            .map(|(mesh, name)| DataplaneInsight {
                mesh: mesh.clone(),
                name: name.clone(),
                removed: true,
                ..DataplaneInsight::default()
            }),
    );
    out
}

/// Reports sessions for as long as the stream to global lives.
pub async fn report(sessions: Sessions, sender: mpsc::Sender<ZoneMessage>) -> Result<(), String> {
    let mut sent: Option<HashMap<Key, DataplaneInsight>> = None;
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = snapshot(&sessions);
        let (full, insights) = match &sent {
            None => (true, now.values().cloned().collect()),
            Some(sent) => (false, changes(sent, &now)),
        };
        if !full && insights.is_empty() {
            continue;
        }
        let mut chunks: Vec<Vec<DataplaneInsight>> = insights
            .chunks(PER_MESSAGE)
            .map(<[DataplaneInsight]>::to_vec)
            .collect();
        if chunks.is_empty() {
            // Nothing registered: still tell global to forget what it had.
            chunks.push(Vec::new());
        }
        for (index, insights) in chunks.into_iter().enumerate() {
            let message = DataplaneInsights {
                full: full && index == 0,
                insights,
            };
            sender
                .send(ZoneMessage {
                    message: Some(zone_message::Message::Insights(message)),
                })
                .await
                .map_err(|_| "the stream to global closed".to_string())?;
        }
        sent = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(name: &str, acked: u64) -> (Key, DataplaneInsight) {
        let key = ("shop".to_string(), name.to_string());
        let insight = DataplaneInsight {
            mesh: key.0.clone(),
            name: key.1.clone(),
            connected: true,
            config_version: 2,
            acked_version: acked,
            ..DataplaneInsight::default()
        };
        (key, insight)
    }

    #[test]
    fn only_changes_and_removals_are_sent_again() {
        let sent: HashMap<_, _> = [insight("a", 1), insight("b", 2)].into();
        let now: HashMap<_, _> = [insight("a", 2), insight("c", 2)].into();
        let mut out = changes(&sent, &now);
        out.sort_by(|x, y| x.name.cmp(&y.name));
        let summary: Vec<(&str, u64, bool)> = out
            .iter()
            .map(|i| (i.name.as_str(), i.acked_version, i.removed))
            .collect();
        assert_eq!(
            summary,
            vec![("a", 2, false), ("b", 0, true), ("c", 2, false)]
        );
        assert!(changes(&now, &now).is_empty());
    }
}
