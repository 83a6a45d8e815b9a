//! Verified results kept in memory for a while: bounded in time (TTL) and in entries.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A TTL- and size-bounded map. When full, the oldest entry goes first.
pub struct TtlCache<V> {
    ttl: Duration,
    max: usize,
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    map: HashMap<String, (Instant, V)>,
    order: VecDeque<(String, Instant)>,
}

impl<V: Clone> TtlCache<V> {
    /// `max` 0 or `ttl` zero: nothing is kept.
    pub fn new(ttl: Duration, max: usize) -> TtlCache<V> {
        TtlCache {
            ttl,
            max,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value for `key` if it was inserted less than the TTL ago.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let inner = self.lock();
        match inner.map.get(key) {
            Some((at, v)) if now.saturating_duration_since(*at) < self.ttl => Some(v.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: String, value: V, now: Instant) {
        if self.max == 0 || self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        // Expired entries at the front go first; then the oldest while over the bound.
        while let Some((k, at)) = inner.order.front().cloned() {
            let expired = now.saturating_duration_since(at) >= self.ttl;
            let over = inner.map.len() >= self.max && !inner.map.contains_key(&key);
            if !(expired || over) {
                break;
            }
            inner.order.pop_front();
            if inner.map.get(&k).is_some_and(|(t, _)| *t == at) {
                inner.map.remove(&k);
            }
        }
        inner.order.push_back((key.clone(), now));
        inner.map.insert(key, (now, value));
        // Keys re-inserted leave stale positions behind; keep the queue bounded too.
        if inner.order.len() > self.max.saturating_mul(2) {
            let map = std::mem::take(&mut inner.map);
            let mut order: Vec<(String, Instant)> =
                map.iter().map(|(k, (t, _))| (k.clone(), *t)).collect();
            order.sort_by_key(|(_, t)| *t);
            inner.order = order.into();
            inner.map = map;
        }
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let c = TtlCache::new(Duration::from_secs(10), 3);
        let t0 = Instant::now();
        for i in 0..5 {
            c.insert(format!("k{i}"), i, t0 + Duration::from_millis(i));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("k0", t0), None, "the oldest went first");
        assert_eq!(c.get("k4", t0 + Duration::from_secs(1)), Some(4));
        assert_eq!(c.get("k4", t0 + Duration::from_secs(11)), None, "expired");
        c.insert("k4".into(), 40, t0 + Duration::from_secs(20));
        for _ in 0..20 {
            c.insert("k4".into(), 41, t0 + Duration::from_secs(20));
        }
        assert!(c.len() <= 3);
        assert_eq!(c.get("k4", t0 + Duration::from_secs(21)), Some(41));
        let off = TtlCache::new(Duration::from_secs(10), 0);
        off.insert("a".into(), 1, t0);
        assert_eq!(off.get("a", t0), None);
    }
}
