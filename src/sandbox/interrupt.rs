//! Ctrl-C, SIGTERM and SIGQUIT while disposable databases are made or used.
//!
//! Our own handler (testcontainers' watchdog panics when a container is already being
//! removed, and then never ends the process): Docker containers that must not outlive the
//! process are registered by name before they exist; on a signal the handler marks the
//! process interrupted, force-removes each (a missing or already-removing container is
//! fine), prints `error: interrupted` and exits with 128 + the signal (130 for Ctrl-C).
//! Local throw-away clusters need nothing here: their own watchdog removes them when this
//! process ends.
//!
//! While the handler cleans up, the main thread may see the effects (a container gone,
//! Docker's 409 "removal in progress") and fail: [`wait_if_interrupted`], called before an
//! error is reported, keeps it from printing a misleading error or exiting first.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static NAMES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Removes the container `name` if a signal ends the process before [`unregister`].
/// Once a signal arrived, it waits for the handler to end the process instead: nothing new
/// is created behind the handler's back.
pub(crate) fn register(name: &str) {
    install();
    let mut names = NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Checked under the lock the handler takes after setting the flag: a name registered
    // here is either in the handler's list or never created.
    if interrupted() {
        drop(names);
        // Returns only if the process outlives the handler, which it does not.
        wait_if_interrupted();
        return;
    }
    names.insert(name.to_string());
}

pub(crate) fn unregister(name: &str) {
    NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(name);
}

/// Whether a signal arrived and the handler is ending the process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// When the handler is ending the process, waits for it to (it exits the process); else
/// returns at once.
pub fn wait_if_interrupted() {
    while interrupted() {
        std::thread::park_timeout(std::time::Duration::from_secs(1));
    }
}

/// Installs the handler (once). Commands that start a disposable database call it first,
/// so an interruption at any moment of a start is handled.
#[cfg(unix)]
pub fn install() {
    use std::sync::Once;

    use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::Signals;

    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Without a handler the default action (terminate) simply stays: containers would
        // then be left to the next run's sweep.
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGQUIT]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                INTERRUPTED.store(true, Ordering::SeqCst);
                let names: Vec<String> = NAMES
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                // A create request already on its way may land after the first removal
                // (which then finds nothing): a second pass a moment later removes that one.
                for pass in 0..2 {
                    if pass > 0 && !names.is_empty() {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                    for name in &names {
                        super::docker::remove_container_blocking(name);
                    }
                }
                eprintln!("error: interrupted");
                std::process::exit(128 + signal);
            }
        });
    });
}

/// Elsewhere Ctrl-C keeps its default action; containers left behind are removed by the
/// next run's sweep of leftovers.
#[cfg(not(unix))]
pub fn install() {}
