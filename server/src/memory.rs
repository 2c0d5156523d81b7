//! How many heaps (arenas) glibc's allocator keeps. By default a thread that allocates gets an
//! arena of its own, up to eight per core, and what a thread frees stays in its arena for later.
//! Under a load of pages the server's threads (tokio's workers, SQLite's connection threads,
//! the blocking pool) each keep what the same renders and compressions left, so the peak grows
//! with the number of threads. Two arenas per core kept the whole bench's peak under 60 MB at
//! the same page throughput; one per core cost a fifth of the admin page's (docs/benchmarks.md).

/// Arenas per core (`available_parallelism`).
const ARENAS_PER_CORE: usize = 2;

/// Limits glibc's arenas to [`ARENAS_PER_CORE`] per core, unless `MALLOC_ARENA_MAX` in the
/// environment (which glibc reads itself) already says how many. Must run before any other
/// thread starts: a thread is given its arena on its first allocation.
pub fn limit_arenas() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(limit) = arena_limit(std::env::var_os("MALLOC_ARENA_MAX").is_some(), cores) {
        set_arena_max(limit);
    }
}

/// The limit to set: none if the operator chose one.
fn arena_limit(chosen_in_env: bool, cores: usize) -> Option<usize> {
    (!chosen_in_env).then_some(ARENAS_PER_CORE * cores)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(limit: usize) -> bool {
    let limit = libc::c_int::try_from(limit).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a parameter of the allocator; it returns 1 on success.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, limit) == 1 }
}

/// Other allocators (musl's, macOS's) have no arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_limit: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_arenas_per_core_unless_the_environment_chose() {
        assert_eq!(arena_limit(false, 1), Some(2));
        assert_eq!(arena_limit(false, 2), Some(4));
        assert_eq!(arena_limit(false, 16), Some(32));
        assert_eq!(arena_limit(true, 2), None);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_takes_the_limit() {
        assert!(set_arena_max(4));
    }
}
