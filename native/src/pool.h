// A tiny persistent thread pool for row-parallel kernels. The calling (JS) thread takes part, so a pool of N
// threads owns N-1 workers. Work is cut into a fixed number of chunks that threads claim one at a time: when a
// worker is slow to wake (a busy machine), the caller simply takes its chunks instead of waiting for it.
#pragma once
#include <cstdint>
#include <functional>

namespace seal {

void pool_init(int threads);
int pool_threads();
// Whether this is the thread that loaded the addon: the only one whose parallel regions use the workers (others run
// them inline, on one core each).
bool home_thread();
// Whether the home thread drops to one thread while other processes keep a core busy (SEAL_NATIVE_ADAPT=0: never).
bool pool_adapts();
// Threads the home thread's parallel regions ran on at the last probe (the pool size before any).
int threads_now();

// How many chunks parallel_for(n, grain, ...) cuts [0, n) into. It depends only on n, grain and the pool size,
// never on timing, so per-chunk partial sums reduced in chunk order give the same bits on every run.
int64_t chunk_count(int64_t n, int64_t grain);

// Runs fn(chunk, begin, end) for every chunk of [0, n). Not re-entrant: kernels never nest parallel regions.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace seal
