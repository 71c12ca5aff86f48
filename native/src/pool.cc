#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace seal {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

struct Pool {
  int threads = 1;
  // (generation << 32) | next unclaimed chunk. A claim is a CAS on this word, so a worker that wakes late for an
  // old job can never take a chunk of a newer one. Each job takes two generations: an odd one while the caller
  // writes the job fields (nothing claimable), then the even one that opens it.
  std::atomic<uint64_t> claim{0};
  std::atomic<int64_t> done{0};
  // Job fields, written by the caller before it publishes a new generation and read only after a claim of it.
  std::atomic<const std::function<void(int64_t, int64_t, int64_t)>*> fn{nullptr};
  std::atomic<int64_t> n{0};
  std::atomic<int64_t> chunks{0};
  std::mutex mu;
  std::condition_variable cv;
  // Held by the thread whose job the workers serve. Another JS thread (worker_threads) runs its job inline.
  std::mutex owner;
  std::atomic<int> sleepers{0};
};

Pool* pool = nullptr;

uint32_t gen_of(uint64_t c) { return static_cast<uint32_t>(c >> 32); }

constexpr uint64_t kClosed = 0xffffffffu;

bool open_job(uint32_t g, uint32_t seen) { return g != seen && (g & 1u) == 0; }

// Claims and runs chunks of generation `gen` until none is left.
void drain(Pool* p, uint32_t gen) {
  for (;;) {
    uint64_t c = p->claim.load(std::memory_order_acquire);
    if (gen_of(c) != gen) return;
    const int64_t idx = static_cast<int64_t>(c & 0xffffffffu);
    const int64_t chunks = p->chunks.load(std::memory_order_relaxed);
    if (idx >= chunks) return;
    if (!p->claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    const int64_t n = p->n.load(std::memory_order_relaxed);
    (*p->fn.load(std::memory_order_relaxed))(idx, n * idx / chunks, n * (idx + 1) / chunks);
    p->done.fetch_add(1, std::memory_order_acq_rel);
  }
}

void worker(Pool* p) {
  uint32_t seen = 0;
  for (;;) {
    // Spin for about 100 µs: the next kernel of a training step usually arrives sooner than a futex wake-up.
    auto start = std::chrono::steady_clock::now();
    int spins = 0;
    uint32_t g = gen_of(p->claim.load(std::memory_order_acquire));
    while (!open_job(g, seen)) {
      cpu_relax();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(100)) {
        std::unique_lock<std::mutex> lock(p->mu);
        p->sleepers.fetch_add(1);
        p->cv.wait(lock, [&] { return open_job(gen_of(p->claim.load(std::memory_order_acquire)), seen); });
        p->sleepers.fetch_sub(1);
      }
      g = gen_of(p->claim.load(std::memory_order_acquire));
    }
    seen = g;
    drain(p, g);
  }
}

}  // namespace

void pool_init(int threads) {
  if (pool != nullptr) return;
  pool = new Pool();
  pool->threads = threads < 1 ? 1 : threads;
  // Workers live as long as the process (an addon is never unloaded); detached so exit does not wait for them.
  for (int i = 1; i < pool->threads; i++) std::thread(worker, pool).detach();
}

int pool_threads() { return pool == nullptr ? 1 : pool->threads; }

int64_t chunk_count(int64_t n, int64_t grain) {
  const int threads = pool_threads();
  if (threads == 1 || n < 2 || n < grain) return 1;
  const int64_t byGrain = n / (grain < 1 ? 1 : grain);
  const int64_t most = static_cast<int64_t>(threads) * 4;
  return byGrain < most ? (byGrain < 1 ? 1 : byGrain) : most;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t chunks = chunk_count(n, grain);
  Pool* p = pool;
  std::unique_lock<std::mutex> own;
  if (p != nullptr && chunks > 1) own = std::unique_lock<std::mutex>(p->owner, std::try_to_lock);
  if (!own.owns_lock()) {
    for (int64_t c = 0; c < chunks; c++) fn(c, n * c / chunks, n * (c + 1) / chunks);
    return;
  }
  const uint32_t gen = gen_of(p->claim.load(std::memory_order_relaxed)) + 2;
  p->claim.store((static_cast<uint64_t>(gen - 1) << 32) | kClosed, std::memory_order_seq_cst);
  p->fn.store(&fn, std::memory_order_relaxed);
  p->n.store(n, std::memory_order_relaxed);
  p->chunks.store(chunks, std::memory_order_relaxed);
  p->done.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(p->mu);
    p->claim.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  }
  if (p->sleepers.load() > 0) p->cv.notify_all();
  drain(p, gen);
  // Only chunks a worker has already claimed are waited for; unclaimed ones were run above.
  for (int spins = 0; p->done.load(std::memory_order_acquire) < chunks; spins++) {
    if (spins < 4096)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

}  // namespace seal
