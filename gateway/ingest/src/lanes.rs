//! Work split into lanes that can be written side by side: items connected through a name
//! they share (a record key, an account, a project, a statement's identity) stay in one
//! lane, in their order, so that no two concurrent transactions can touch the same row and
//! the order of writes to any row is the order of the items. Used where the store takes
//! several writers at once (PostgreSQL): a backfill's bank files (`group`) and its
//! registry records (`pipeline`).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use store::Backend;

/// Transactions written side by side where the store has several writers; SQLite writes one
/// transaction at a time. Three on PostgreSQL: each lane alternates between this process
/// encoding a statement and the server running it, so with two lanes the server's two
/// cores idled while the client encoded; a third lane fills those gaps (1x backfill 260 s ->
/// 239-245 s; four lanes were no better: docs/BENCHMARKS.md, "Backfill speed, round 7").
pub(crate) fn lanes_for(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 3,
        Backend::Sqlite => 1,
    }
}

/// A name an item touches, as a 64-bit hash of a tag and its parts. Two different names that
/// collide can only put two items in one lane, never split a name across lanes.
pub(crate) fn name(tag: u8, parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tag.hash(&mut h);
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Splits `items` (in order) into at most `lanes` lanes, each in the items' order: items
/// that share a name (from `names_of`), directly or through other items, are in one lane.
/// Connected items go, in the order of their first item, to the lane with the least
/// `weight` so far. Empty lanes are left out.
pub(crate) fn split<T>(
    items: Vec<T>,
    lanes: usize,
    names_of: impl Fn(&T, &mut dyn FnMut(u64)),
    weight: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    if lanes <= 1 || items.len() <= 1 {
        return if items.is_empty() {
            Vec::new()
        } else {
            vec![items]
        };
    }
    // Union-find over the items' positions; the earlier item's root stays the root.
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_with: HashMap<u64, usize> = HashMap::new();
    for (at, item) in items.iter().enumerate() {
        names_of(item, &mut |name| match first_with.get(&name) {
            Some(&other) => {
                let (a, b) = (root(&mut parent, at), root(&mut parent, other));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
            None => {
                first_with.insert(name, at);
            }
        });
    }
    let mut totals: HashMap<usize, usize> = HashMap::new();
    for (at, item) in items.iter().enumerate() {
        let r = root(&mut parent, at);
        *totals.entry(r).or_default() += weight(item).max(1);
    }
    let mut lane_of_root: HashMap<usize, usize> = HashMap::new();
    let mut load = vec![0usize; lanes];
    let mut out: Vec<Vec<T>> = (0..lanes).map(|_| Vec::new()).collect();
    for (at, item) in items.into_iter().enumerate() {
        let r = root(&mut parent, at);
        let lane = *lane_of_root.entry(r).or_insert_with(|| {
            let lightest = (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0);
            load[lightest] += totals.get(&r).copied().unwrap_or(1);
            lightest
        });
        out[lane].push(item);
    }
    out.retain(|lane| !lane.is_empty());
    out
}

/// The names a stored record touches: its key, its account, its project and (a statement)
/// its identity.
pub(crate) fn record_names(r: &store::NewRecord, put: &mut dyn FnMut(u64)) {
    put(name(b'k', &[r.kind.as_str(), &r.key]));
    if let Some(a) = &r.account {
        put(name(b'a', &[a]));
    }
    if let Some(p) = &r.project {
        put(name(b'p', &[p]));
    }
    if let Some(d) = &r.statement {
        put(name(b's', &[&d.identity]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_sharing_a_name_directly_or_through_others_share_a_lane() {
        // Items named by letters; 0-2-5 connected through "a" then "b", 3 and 4 alone.
        let items: Vec<(usize, &[&str])> = vec![
            (0, &["a"]),
            (1, &["x"]),
            (2, &["a", "b"]),
            (3, &["y"]),
            (4, &["z"]),
            (5, &["b"]),
        ];
        let lanes = split(
            items,
            2,
            |(_, names), put| {
                for n in *names {
                    put(name(b'n', &[n]));
                }
            },
            |_| 1,
        );
        let ids: Vec<Vec<usize>> = lanes
            .iter()
            .map(|l| l.iter().map(|(i, _)| *i).collect())
            .collect();
        // The connected three (weight 3) fill one lane; the other three the other.
        assert_eq!(ids, vec![vec![0, 2, 5], vec![1, 3, 4]]);
    }

    #[test]
    fn one_lane_or_one_item_is_left_as_it_is() {
        let keep = |items: Vec<u32>, lanes| split(items, lanes, |_, _| {}, |_| 1);
        assert_eq!(keep(vec![3, 1, 2], 1), vec![vec![3, 1, 2]]);
        assert_eq!(keep(vec![7], 2), vec![vec![7]]);
        assert!(keep(Vec::new(), 2).is_empty());
    }

    #[test]
    fn a_tag_keeps_names_of_different_kinds_apart() {
        assert_ne!(name(b'a', &["6222"]), name(b'p', &["6222"]));
        assert_ne!(name(b'k', &["payment", "1"]), name(b'k', &["payment1", ""]));
    }
}
