//! One worker: a thread with its own event loop (as wrk has one per thread), its share of the
//! load, and its slots, each with its own connection.
//!
//! Open model: a tick every millisecond releases the requests that have come due since the last
//! one, each to an idle slot, with its intended start time; a request that finds no idle slot is
//! dropped and counted. Latency runs from the intended start, so a slow server cannot hide its
//! slowness by slowing the generator down (coordinated omission). A tokio timer wakes up to a
//! millisecond late: that lag is measured apart.
//!
//! Closed model: each active slot sends its next request as soon as its last one is answered.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, Sleep, interval, sleep};

use super::failure::Failure;
use super::http::{Client, Sender};
use super::http2::Connection2;
use super::settings::Model;
use super::stats::{ErrorClass, Outcome, Stats};
use crate::plan::{Profile, StatusSet};

/// How often an idle virtual user of a ramping closed model checks whether it is needed.
const IDLE_CHECK: Duration = Duration::from_millis(10);

/// A worker's figures, shared with the progress line.
pub type SharedStats = Arc<Mutex<Stats>>;

pub fn lock(stats: &SharedStats) -> MutexGuard<'_, Stats> {
    stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Worker {
    pub client: Client,
    pub model: Model,
    pub success: StatusSet,
    pub timeout: Duration,
    /// When the load begins.
    pub start: Instant,
    /// Where the series starts counting (`START_AT`, even for a task that began late).
    pub origin: Instant,
    pub stats: SharedStats,
    /// Set on a signal: no more requests are started.
    pub stop: Arc<AtomicBool>,
}

/// What every slot of a worker shares.
struct Shared {
    worker: Worker,
    /// HTTP/2 connections, one per `http2-streams` slots. A slot that finds its group's being
    /// made waits for it, rather than making one of its own.
    http2: Vec<tokio::sync::Mutex<Option<Connection2>>>,
    /// ALPN chose HTTP/1.1: every slot has a connection of its own.
    own_connections: Cell<bool>,
    end: Instant,
}

struct Slot {
    index: usize,
    connection: Option<Sender>,
    /// Fires at or before the running request's deadline. It is reset only when it fires early,
    /// so that a request costs no timer registration (the deadline of a request is always later
    /// than that of the one before).
    timer: Pin<Box<Sleep>>,
    /// Connections that could not be made in a row (connect or TLS), since the last that was.
    failed_connects: u32,
}

impl Slot {
    fn new(index: usize, timeout: Duration) -> Slot {
        Slot {
            index,
            connection: None,
            timer: Box::pin(tokio::time::sleep(timeout)),
            failed_connects: 0,
        }
    }
}

/// A virtual user whose connection could not be made waits this long before it tries again,
/// twice as long after each further failure, up to `CONNECT_RETRY_MOST`.
const CONNECT_RETRY_FIRST: Duration = Duration::from_millis(100);
const CONNECT_RETRY_MOST: Duration = Duration::from_secs(1);

/// An open-model slot's inbox: the intended start of its next request.
#[derive(Default)]
struct Mailbox {
    job: Cell<Option<Instant>>,
    closed: Cell<bool>,
    notify: Notify,
}

impl Worker {
    /// Runs the worker's share of the load to its end; must run inside a `LocalSet`.
    pub async fn run(self) {
        tokio::time::sleep_until(self.start).await;
        let end = self.start + Duration::from_secs_f64(self.model.profile().seconds());
        let slots = self.model.slots() as usize;
        let shared = Rc::new(Shared {
            http2: (0..slots.div_ceil(self.client.http2_streams))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            own_connections: Cell::new(false),
            worker: self,
            end,
        });
        match shared.worker.model.clone() {
            Model::Open { profile, .. } => open(shared, slots, &profile).await,
            Model::Closed { profile } => closed(shared, slots, &profile).await,
        }
    }
}

async fn open(shared: Rc<Shared>, slot_count: usize, profile: &Profile) {
    let mailboxes: Vec<Rc<Mailbox>> = (0..slot_count).map(|_| Rc::default()).collect();
    let idle = Rc::new(RefCell::new((0..slot_count).rev().collect::<Vec<usize>>()));
    let mut slots = JoinSet::new();
    for (index, mailbox) in mailboxes.iter().enumerate() {
        let (shared, mailbox, idle) = (shared.clone(), mailbox.clone(), idle.clone());
        slots.spawn_local(async move {
            let mut slot = Slot::new(index, shared.worker.timeout);
            loop {
                mailbox.notify.notified().await;
                let Some(intended) = mailbox.job.take() else {
                    if mailbox.closed.get() {
                        return;
                    }
                    continue;
                };
                let lag = Instant::now().saturating_duration_since(intended);
                lock(&shared.worker.stats).record_lag(lag.as_micros() as u64);
                shared.request(&mut slot, intended).await;
                idle.borrow_mut().push(index);
            }
        });
    }

    let worker = &shared.worker;
    let total = profile.scheduled();
    let mut issued = 0;
    let mut tick = interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while issued < total && !worker.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let elapsed = Instant::now().duration_since(worker.start).as_secs_f64();
        let mut dropped = 0;
        while issued < total {
            let Some(at) = profile.time_of(issued) else {
                issued = total;
                break;
            };
            if at > elapsed {
                break;
            }
            let intended = worker.start + Duration::from_secs_f64(at);
            match idle.borrow_mut().pop() {
                Some(slot) => {
                    let mailbox = &mailboxes[slot];
                    mailbox.job.set(Some(intended));
                    mailbox.notify.notify_one();
                }
                None => dropped += 1,
            }
            issued += 1;
        }
        if dropped > 0 {
            lock(&worker.stats).dropped += dropped;
        }
    }
    for mailbox in &mailboxes {
        mailbox.closed.set(true);
        mailbox.notify.notify_one();
    }
    while slots.join_next().await.is_some() {}
}

async fn closed(shared: Rc<Shared>, slot_count: usize, profile: &Profile) {
    let mut slots = JoinSet::new();
    for index in 0..slot_count {
        let shared = shared.clone();
        let profile = profile.clone();
        slots.spawn_local(async move {
            let worker = &shared.worker;
            let mut slot = Slot::new(index, shared.worker.timeout);
            loop {
                let now = Instant::now();
                if now >= shared.end || worker.stop.load(Ordering::Relaxed) {
                    return;
                }
                let elapsed = now.duration_since(worker.start).as_secs_f64();
                if index >= profile.target_at(elapsed).round() as usize {
                    // Not needed yet (or any more) at this point of a ramp.
                    slot.connection = None;
                    sleep(IDLE_CHECK.min(shared.end - now)).await;
                    continue;
                }
                shared.request(&mut slot, now).await;
                // A connection that cannot be made is tried again at a bounded pace, not at
                // once: a virtual user would otherwise spin on a refused port or a failing
                // handshake, thousands of times a second. (The open model's schedule bounds it.)
                if slot.failed_connects > 0 {
                    let wait = CONNECT_RETRY_FIRST
                        .saturating_mul(1 << (slot.failed_connects.min(4) - 1))
                        .min(CONNECT_RETRY_MOST);
                    sleep(wait.min(shared.end.saturating_duration_since(Instant::now()))).await;
                }
            }
        });
    }
    while slots.join_next().await.is_some() {}
}

impl Shared {
    /// One request on `slot`'s connection (opened first when there is none), recorded.
    async fn request(&self, slot: &mut Slot, intended: Instant) {
        let worker = &self.worker;
        let deadline = Instant::now() + worker.timeout;
        let answer = {
            let Slot {
                index,
                connection,
                timer,
                ..
            } = &mut *slot;
            let exchange = async {
                let mut sender = self.sender(*index, connection).await?;
                let mut answer = worker.client.send(&mut sender).await;
                if answer.as_ref().is_err_and(|failure| failure.unsent) {
                    // Its connection was going away before it left: once more, on a new one.
                    sender = self.sender(*index, &mut None).await?;
                    answer = worker.client.send(&mut sender).await;
                }
                *connection = Some(sender);
                answer
            };
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    answer = &mut exchange => break Ok(answer),
                    () = timer.as_mut() => {
                        if Instant::now() >= deadline {
                            break Err(());
                        }
                        timer.as_mut().reset(deadline);
                    }
                }
            }
        };
        let ended = Instant::now();
        let since_intended = ended.saturating_duration_since(intended).as_micros() as u64;
        let mut said = None;
        let outcome = match answer {
            Ok(Ok(status)) => Outcome {
                status: Some(status),
                error: (!worker.success.contains(status)).then_some(ErrorClass::Status),
                latency_us: Some(since_intended),
            },
            Ok(Err(failure)) => {
                self.forget(slot);
                let class = failure.class;
                said = Some(failure);
                Outcome {
                    status: None,
                    error: Some(class),
                    latency_us: (class == ErrorClass::Body).then_some(since_intended),
                }
            }
            Err(_) => {
                // An HTTP/1.1 connection cut mid-request cannot carry another.
                self.forget(slot);
                Outcome {
                    status: None,
                    error: Some(ErrorClass::Timeout),
                    latency_us: Some(since_intended),
                }
            }
        };
        let offset_ms = intended
            .saturating_duration_since(worker.origin)
            .as_millis() as u64;
        let mut stats = lock(&worker.stats);
        stats.record(offset_ms, outcome);
        if let Some(class) = outcome.error.filter(|class| *class != ErrorClass::Status) {
            let message = said
                .as_ref()
                .and_then(|failure| failure.message.as_deref())
                .unwrap_or_else(|| class.default_message());
            stats.example(class, message, 1);
        }
        drop(stats);
        if matches!(outcome.error, Some(ErrorClass::Connect | ErrorClass::Tls)) {
            slot.failed_connects = slot.failed_connects.saturating_add(1);
        } else {
            slot.failed_connects = 0;
        }
    }

    /// The slot's connection, the slot group's HTTP/2 connection, or a new one.
    async fn sender(
        &self,
        index: usize,
        connection: &mut Option<Sender>,
    ) -> Result<Sender, Failure> {
        if let Some(mut sender) = connection.take()
            && sender.is_open()
        {
            return Ok(sender);
        }
        let client = &self.worker.client;
        // Boxed: a connect (TLS handshake included) is large and rare; inline, it would make every
        // slot's task as large for the whole run.
        if !client.may_share_connections() || self.own_connections.get() {
            return Box::pin(client.connect()).await;
        }
        let mut group = self.http2[index / client.http2_streams].lock().await;
        if let Some(shared) = group.as_ref()
            && shared.is_open()
        {
            return Ok(Sender::Http2(shared.clone()));
        }
        if self.own_connections.get() {
            // The connection this slot waited for spoke HTTP/1.1: the group's slots connect at
            // once, each its own, not one after another.
            drop(group);
            return Box::pin(client.connect()).await;
        }
        let sender = Box::pin(client.connect()).await?;
        match &sender {
            Sender::Http2(http2) => *group = Some(http2.clone()),
            Sender::Http1(_) => self.own_connections.set(true),
        }
        Ok(sender)
    }

    /// Drops a slot's connection after an error (a closed HTTP/2 connection is made again by
    /// the first of its group to need it).
    fn forget(&self, slot: &mut Slot) {
        slot.connection = None;
    }
}
