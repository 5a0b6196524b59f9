//! Who holds a file claim, and whether that process is gone.
//!
//! An ingest worker claims received files for a lease (5 minutes), and the reconcile
//! scheduler claims dirty projects for `reconcile.lease_ms`. When the process dies (SIGKILL,
//! OOM, power loss), its claims used to wait out the whole lease even after a restart on the
//! same machine. A claimant id says where and which process it is: `HOST/BOOT/PID/START/WHO`
//! (host name with its PID namespace, kernel boot id, process id, process start in
//! nanoseconds, then the worker number or a role such as `reconcile`). A gateway starting on
//! the same host releases at once the file and project claims of a claimant that is provably
//! dead:
//!
//! - the machine rebooted since (another boot id), or
//! - its process id is this process's own (it was reused: a container restarted as PID 1)
//!   with another start, or
//! - no process with its id is running.
//!
//! Claims of other hosts, of unparseable ids (an older version's `gateway-PID-N`) and of
//! live processes are left to their lease: a wrong release would only cost a file processed
//! twice (processing is idempotent), but a live worker's claim is never taken.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

/// This process: host, boot id, process id and start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub host: String,
    pub boot: String,
    pub pid: u32,
    pub start: u128,
}

impl Instance {
    /// This process (computed once).
    pub fn current() -> &'static Instance {
        static ME: OnceLock<Instance> = OnceLock::new();
        ME.get_or_init(|| Instance {
            host: host_id(),
            boot: read_proc("/proc/sys/kernel/random/boot_id")
                .unwrap_or_else(|| "unknown-boot".into()),
            pid: std::process::id(),
            start: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        })
    }

    /// The claimant id of worker `n` of this instance.
    pub fn worker_id(&self, n: usize) -> String {
        self.worker_id_of(&n.to_string())
    }

    /// The claimant id of this instance's `role` (`reconcile`, `webhook`, `load`).
    pub fn role_id(&self, role: &str) -> String {
        self.worker_id_of(&clean(role))
    }

    fn worker_id_of(&self, who: &str) -> String {
        format!(
            "{}/{}/{}/{}/{who}",
            clean(&self.host),
            clean(&self.boot),
            self.pid,
            self.start
        )
    }

    /// Parses a claimant id written by [`Instance::worker_id`] or [`Instance::role_id`].
    pub fn parse(claimant: &str) -> Option<Instance> {
        let mut parts = claimant.split('/');
        let host = parts.next()?.to_string();
        let boot = parts.next()?.to_string();
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        if parts.next()?.is_empty() {
            return None;
        }
        parts.next().is_none().then_some(Instance {
            host,
            boot,
            pid,
            start,
        })
    }

    /// Whether `claimant` is a process of this host that is certainly gone; `alive` says
    /// whether a process id is running here.
    pub fn outlived(&self, claimant: &str, alive: impl Fn(u32) -> bool) -> bool {
        let Some(other) = Instance::parse(claimant) else {
            return false;
        };
        if other.host != clean(&self.host) {
            return false;
        }
        if other.boot != clean(&self.boot) {
            return true;
        }
        if other.pid == self.pid {
            return other.start != self.start;
        }
        !alive(other.pid)
    }
}

/// The host name and the PID namespace: two containers given the same host name (or sharing
/// the host's network) but with their own process ids must never judge each other's PIDs.
fn host_id() -> String {
    let name = read_proc("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown-host".into());
    let pid_ns = std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| {
            p.to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    format!("{name}~{pid_ns}")
}

fn clean(s: &str) -> String {
    s.trim().replace(['/', ' '], "_")
}

fn read_proc(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Whether a process with this id runs on this machine (Linux: `/proc/PID`). Where that
/// cannot be known, every process counts as alive (nothing is released early).
pub fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// What [`release_dead_local`] released: a dead claimant and how many of its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub claimant: String,
    /// Received files it held (free for the next ingest worker).
    pub files: u64,
    /// Dirty projects it held (still queued, free for the next reconciliation).
    pub projects: u64,
}

/// Releases the file and project claims of this host's dead claimants (see the module
/// docs); returns the claimants released and how many claims each held.
pub async fn release_dead_local(
    store: &dyn store::Store,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Released>> {
    release_dead(store, now, Instance::current(), process_alive).await
}

/// [`release_dead_local`] as seen by `me`, with `alive` saying which process ids run here.
pub async fn release_dead(
    store: &dyn store::Store,
    now: DateTime<Utc>,
    me: &Instance,
    alive: impl Fn(u32) -> bool,
) -> anyhow::Result<Vec<Released>> {
    let mut claimants = store.file_claimants(now).await?;
    claimants.extend(store.dirty_claimants(now).await?);
    claimants.sort();
    claimants.dedup();
    let mut released = Vec::new();
    for claimant in claimants {
        if me.outlived(&claimant, &alive) {
            let files = store.release_file_claims(&claimant).await?;
            let projects = store.release_dirty_claims(&claimant).await?;
            tracing::warn!(claimant = %claimant, files, projects, "released the claims of a gateway process that is gone");
            released.push(Released {
                claimant,
                files,
                projects,
            });
        }
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Instance {
        Instance {
            host: "node-a".into(),
            boot: "b1".into(),
            pid: 1,
            start: 500,
        }
    }

    #[test]
    fn ids_round_trip() {
        let id = me().worker_id(3);
        assert_eq!(id, "node-a/b1/1/500/3");
        assert_eq!(Instance::parse(&id), Some(me()));
        assert_eq!(Instance::parse("gateway-123-0"), None);
    }

    #[test]
    fn only_provably_dead_local_claimants_are_outlived() {
        let me = me();
        let nobody_alive = |_| false;
        let all_alive = |_| true;
        // A container restarted as PID 1 again: same pid, another start.
        assert!(me.outlived("node-a/b1/1/400/0", all_alive));
        // Itself: never.
        assert!(!me.outlived("node-a/b1/1/500/0", nobody_alive));
        // Another process of this boot: dead only when not running.
        assert!(me.outlived("node-a/b1/77/400/0", nobody_alive));
        assert!(!me.outlived("node-a/b1/77/400/0", all_alive));
        // Before a reboot: dead whatever runs under that pid now.
        assert!(me.outlived("node-a/b0/77/400/0", all_alive));
        // Another host, or an old-style id: left to the lease.
        assert!(!me.outlived("node-b/b1/77/400/0", nobody_alive));
        assert!(!me.outlived("gateway-77-0", nobody_alive));
        assert!(!me.outlived("reconcile-host-77-400", nobody_alive));
        // A role of a dead process of this boot, and of this process itself.
        assert!(me.outlived("node-a/b1/77/400/reconcile", nobody_alive));
        assert!(!me.outlived(&me.role_id("reconcile"), nobody_alive));
        assert!(!me.outlived("node-a/b1/77/400/", nobody_alive));
    }
}
