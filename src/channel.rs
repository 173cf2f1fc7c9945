//! A bounded(1) channel where the newest item wins: stale items are dropped and counted, never queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError, TrySendError};

/// Producer side. It keeps a receiver of its own to take back a stale item, so it learns that the
/// consumer has gone from a token the consumer holds, not from the channel.
pub struct NewestSender<T> {
    tx: Sender<T>,
    drain: Receiver<T>,
    consumer: Weak<()>,
    dropped: Arc<AtomicU64>,
    /// A second, newest-wins consumer that gets a copy of every item first (the display gets every captured
    /// frame while inference takes the newest). It never holds the sender up; its going away ends nothing.
    tap: Option<Tap<T>>,
}

struct Tap<T> {
    tx: Box<NewestSender<T>>,
    copy: fn(&T) -> T,
}

/// Consumer side; dropping it ends the producer's loop (shutdown by disconnection).
pub struct NewestReceiver<T> {
    rx: Receiver<T>,
    _alive: Arc<()>,
}

pub fn newest<T>() -> (NewestSender<T>, NewestReceiver<T>) {
    let (tx, rx) = bounded(1);
    let alive = Arc::new(());
    let sender =
        NewestSender { tx, drain: rx.clone(), consumer: Arc::downgrade(&alive), dropped: Arc::default(), tap: None };
    (sender, NewestReceiver { rx, _alive: alive })
}

impl<T> NewestSender<T> {
    pub fn consumer_gone(&self) -> bool {
        self.consumer.strong_count() == 0
    }

    /// Also gives a copy of each item to `tap` (before this sender's own consumer gets it).
    pub fn with_tap(mut self, tap: NewestSender<T>) -> NewestSender<T>
    where
        T: Clone,
    {
        self.tap = Some(Tap { tx: Box::new(tap), copy: T::clone });
        self
    }

    fn feed_tap(&self, item: &T) {
        if let Some(tap) = self.tap.as_ref().filter(|t| !t.tx.consumer_gone()) {
            tap.tx.send((tap.copy)(item));
        }
    }

    /// Sends without waiting; a stale item still in the channel is replaced. False once the consumer is gone.
    pub fn send(&self, mut item: T) -> bool {
        self.feed_tap(&item);
        while !self.consumer_gone() {
            match self.tx.try_send(item) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    item = back;
                    if self.drain.try_recv().is_ok() {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        false
    }

    /// Waits for room instead of dropping (every frame of a file matters in headless mode).
    pub fn send_lossless(&self, mut item: T) -> bool {
        self.feed_tap(&item);
        while !self.consumer_gone() {
            match self.tx.send_timeout(item, Duration::from_millis(50)) {
                Ok(()) => return true,
                Err(SendTimeoutError::Timeout(back)) => item = back,
                Err(SendTimeoutError::Disconnected(_)) => return false,
            }
        }
        false
    }

    /// How many items were replaced before the consumer took them.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

impl<T> NewestReceiver<T> {
    /// Waits for the next item; `None` once the producer has gone and nothing is left.
    pub fn recv(&self) -> Option<T> {
        self.rx.recv().ok()
    }

    pub fn recv_timeout(&self, d: Duration) -> Result<T, RecvTimeoutError> {
        self.rx.recv_timeout(d)
    }

    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// Items waiting: never more than one.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_item_wins_and_drops_are_counted() {
        let (tx, rx) = newest();
        for i in 0..5 {
            assert!(tx.send(i));
            assert!(rx.len() <= 1);
        }
        assert_eq!(rx.try_recv(), Ok(4));
        assert_eq!(tx.dropped().load(Ordering::Relaxed), 4);
    }

    #[test]
    fn producer_stops_when_consumer_is_dropped() {
        let (tx, rx) = newest();
        assert!(tx.send(1));
        drop(rx);
        assert!(!tx.send(2));
        assert!(!tx.send_lossless(3));
    }

    #[test]
    fn a_tap_sees_every_item_first_and_its_end_stops_nothing() {
        let (tap_tx, tap_rx) = newest();
        let (tx, rx) = newest();
        let tx = tx.with_tap(tap_tx);
        assert!(tx.send(1));
        assert_eq!(tap_rx.try_recv(), Ok(1), "the tap got it");
        assert!(tx.send(2));
        // The main consumer still holds only the newest; the tap too, independently.
        assert_eq!((rx.try_recv(), tap_rx.try_recv()), (Ok(2), Ok(2)));
        drop(tap_rx);
        assert!(tx.send(3), "the tap going away does not end the sender");
        assert_eq!(rx.try_recv(), Ok(3));
    }

    #[test]
    fn consumer_sees_the_end_after_the_last_item() {
        let (tx, rx) = newest();
        assert!(tx.send_lossless(7));
        drop(tx);
        assert_eq!(rx.recv(), Some(7));
        assert_eq!(rx.recv(), None);
    }
}
