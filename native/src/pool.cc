#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <unistd.h>
#endif
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
  // The thread that loaded the addon (the main JS thread). Only it uses the workers: JS worker threads, which
  // run inner loops side by side, each get one core's worth of work inline and never share the pool.
  std::thread::id home;
  // Cores free for this process, re-measured every kProbeEvery by the home thread (see `probe`); 0 = not yet.
  bool adapt = true;
  int active = 0;
  std::chrono::steady_clock::time_point next_probe{};
  uint64_t last_total = 0, last_idle = 0, last_self = 0;
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

// How many threads to run with now: the pool size while the machine is otherwise idle, one when other processes
// keep a core busy. Two threads that each get a share of a core are slower than one with a whole core: every
// parallel region waits for the slowest chunk, and a worker preempted holding one stalls the caller for a time
// slice (measured: a training step 3.6x slower with one competing `yes` process, against 1.5x expected from the
// CPU share). Others' load is the machine's busy time (/proc/stat) minus this process's (/proc/self/stat), niced
// processes excluded (they yield to us anyway). Which thread runs a chunk never changes a result: chunk_count
// depends on the pool size only.
constexpr auto kProbeEvery = std::chrono::milliseconds(250);

#if defined(__linux__)
bool read_times(uint64_t& total, uint64_t& idle, uint64_t& self) {
  char buf[512];
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return false;
  const bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  unsigned long long v[8] = {0};  // user nice system idle iowait irq softirq steal
  if (!ok || std::sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                         &v[5], &v[6], &v[7]) != 8)
    return false;
  total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  idle = v[1] + v[3] + v[4];  // niced time counts as free
  f = std::fopen("/proc/self/stat", "r");
  if (f == nullptr) return false;
  const size_t len = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[len] = 0;
  const char* s = std::strrchr(buf, ')');  // the command name may contain spaces
  if (s == nullptr) return false;
  unsigned long long utime = 0, stime = 0;
  // After ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  if (std::sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return false;
  self = utime + stime;
  return true;
}
#endif

int active_threads(Pool* p) {
  if (!p->adapt || p->threads == 1) return p->threads;
#if defined(__linux__)
  const auto now = std::chrono::steady_clock::now();
  if (p->active > 0 && now < p->next_probe) return p->active;
  p->next_probe = now + kProbeEvery;
  uint64_t total = 0, idle = 0, self = 0;
  if (!read_times(total, idle, self)) {
    p->adapt = false;
    return p->threads;
  }
  const uint64_t dt = total - p->last_total, di = idle - p->last_idle, ds = self - p->last_self;
  const bool first = p->last_total == 0;
  p->last_total = total, p->last_idle = idle, p->last_self = self;
  if (first || dt == 0) return p->active = p->threads;
  static const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  // Busy cores of other processes over the last window; our own time (spinning included) is ours to use.
  const double others = (static_cast<double>(dt) - di - ds) / dt * static_cast<double>(cpus);
  const int free_cores = static_cast<int>(static_cast<double>(cpus) - (others > 0 ? others : 0) + 0.5);
  p->active = free_cores < 1 ? 1 : (free_cores < p->threads ? free_cores : p->threads);
  return p->active;
#else
  return p->threads;
#endif
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
  pool->home = std::this_thread::get_id();
  if (const char* a = std::getenv("SEAL_NATIVE_ADAPT")) pool->adapt = std::strcmp(a, "0") != 0;
  // Workers live as long as the process (an addon is never unloaded); detached so exit does not wait for them.
  for (int i = 1; i < pool->threads; i++) std::thread(worker, pool).detach();
}

int pool_threads() { return pool == nullptr ? 1 : pool->threads; }

bool home_thread() { return pool != nullptr && std::this_thread::get_id() == pool->home; }

bool pool_adapts() { return pool != nullptr && pool->adapt && pool->threads > 1; }

int threads_now() {
  if (pool == nullptr) return 1;
  return pool->adapt && pool->active > 0 ? pool->active : pool->threads;
}

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
  // JS worker threads run inline (see Pool::home); so does the home thread while other processes hold a core.
  thread_local const bool home = p != nullptr && std::this_thread::get_id() == p->home;
  std::unique_lock<std::mutex> own;
  if (home && chunks > 1 && active_threads(p) > 1) own = std::unique_lock<std::mutex>(p->owner, std::try_to_lock);
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
