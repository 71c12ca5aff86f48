// The blocked algorithms of our SGEMM (GotoBLAS/BLIS style, with A as the broadcast operand because C is
// row-major). For each nc block of columns and each kc pass along k, a packed B block (kc × nc, NR-wide
// micro-panels) stays in L2; for each MR-row micro-panel of A (packed by the thread that uses it, in L1) the
// micro-kernel runs across the block's micro-panels, one MR × NR tile of C each.
//
// Two ways to share the work, each one pool barrier per packing phase and one per compute phase:
// - run_shared_b (many rows): all of B (or a strip of columns when it is huge) is packed once, in parallel, then
//   tasks take runs of A micro-panels. B is reused by every row, so its extra trip through memory is cheap.
// - run_own_b (few rows, or one thread): tasks take slices of columns and pack their own B blocks right before
//   using them, while they are in L2; A micro-panels are packed once per task (few rows: cheap).
// Every C element is summed over k in the same order (kc passes, then k within a pass) whatever the mode, the
// split, the thread count or the orientation, so results are bit-identical run to run and between one thread and
// the pool. The cuts depend only on the shape and the pool size, never on timing.
#include <algorithm>
#include <cstdlib>

#include "pool.h"
#include "sgemm_impl.h"

namespace seal {
namespace gemm {

namespace {

// A growable 64-byte aligned buffer (aligned panels keep vector loads within cache lines).
struct Buffer {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      cap = n + 1024;
      p = static_cast<float*>(std::aligned_alloc(64, ((cap * sizeof(float) + 63) / 64) * 64));
    }
    return p;
  }
  ~Buffer() { std::free(p); }
};

// Per thread: packed B (the calling thread's is shared with the pool in run_shared_b) and A micro-panels.
thread_local Buffer tlsB;
thread_local Buffer tlsA;

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Packs micro-panels [j0, j1) of B[q·kc : q·kc + kc, col0 : col0 + width) to blk (micro-panel j at j · nr · kc;
// the last only as wide as the vectors it needs).
void pack_panels(const Isa& isa, const Problem& p, int64_t q, int64_t col0, int64_t width, int64_t j0, int64_t j1,
                 float* blk) {
  const int nr = isa.nr();
  const int64_t kc = std::min<int64_t>(isa.kc, p.k - q * isa.kc);
  for (int64_t j = j0; j < j1; j++) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, width - j * nr));
    isa.pack_b(p.b + q * isa.kc * p.rbs + (col0 + j * nr) * p.cbs, p.rbs, p.cbs, kc, cols,
               static_cast<int>(round_up(cols, isa.vl)), blk + j * nr * kc);
  }
}

// A micro-panels: packed, or read in place when a task runs each against no more than two B micro-panels
// (packing costs about as much as that).
struct APanels {
  const Isa& isa;
  const Problem& p;
  bool inPlace;
  float* buf;
  int64_t packed = -1;  // which (row panel, pass) buf holds; see get()
  int kind() const { return inPlace ? (p.ras == 1 ? kStepA : kRowA) : kStepA; }
  // Rows of row panel ip, and its A operand for pass q with the stride the kernel wants.
  int rows(int64_t ip) const { return static_cast<int>(std::min<int64_t>(isa.mr, p.m - ip * isa.mr)); }
  const float* get(int64_t ip, int64_t q, int64_t& as) {
    const float* src = p.a + ip * isa.mr * p.ras + q * isa.kc * p.cas;
    if (inPlace) {
      as = p.ras == 1 ? p.cas : p.ras;
      return src;
    }
    const int r = rows(ip);
    as = r;
    const int64_t key = ip * (p.k + isa.kc) + q;  // unique per (ip, q): q < k + kc
    if (key != packed) {
      isa.pack_a(src, p.ras, p.cas, r, std::min<int64_t>(isa.kc, p.k - q * isa.kc), buf);
      packed = key;
    }
    return buf;
  }
};

// Row panel ip against micro-panels [j0, j1) of a packed block (pass q) whose micro-panel 0 is at blk and starts at
// column col0 of C; the block is `width` columns wide.
// inPlaceB: full micro-panels are read from B itself (rows of a row-major B, rbs apart), not from blk.
void row_panel(const Isa& isa, const Problem& p, APanels& ap, int64_t ip, int64_t q, const float* blk, int64_t col0,
               int64_t width, int64_t j0, int64_t j1, bool inPlaceB = false) {
  const int nr = isa.nr();
  const int vl = isa.vl;
  const int64_t kc = std::min<int64_t>(isa.kc, p.k - q * isa.kc);
  const float beta = q == 0 ? p.beta : 1.0f;
  int64_t as = 0;
  const float* a = ap.get(ip, q, as);
  const Ukr* ukrs = isa.ukr[ap.kind()][ap.rows(ip) - 1];
  float* c = p.c + ip * isa.mr * p.rsc;
  for (int64_t j = j0; j < j1; j++) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, width - j * nr));
    const int nvec = (cols + vl - 1) / vl;
    const bool direct = inPlaceB && cols == nr;
    const float* bp = direct ? p.b + q * isa.kc * p.rbs + col0 + j * nr : blk + j * nr * kc;
    ukrs[nvec - 1](kc, a, as, bp, direct ? p.rbs : nvec * vl, c + (col0 + j * nr) * p.csc, p.rsc, p.csc, cols,
                   p.alpha, beta);
  }
}

// At most this much packed B per phase of run_shared_b (16 MB): the products of a training step fit whole
// (GPT-2 small's MLP weights are 9.4 MB); a vocabulary-sized one (GPT-2's head, 154 MB) goes in column strips.
constexpr int64_t kMaxPackedB = int64_t{4} << 20;

}  // namespace

void run_shared_b(const Isa& isa, const Problem& p, int threads) {
  const int nr = isa.nr();
  const int64_t mPanels = (p.m + isa.mr - 1) / isa.mr;
  const int64_t passes = (p.k + isa.kc - 1) / isa.kc;
  const int64_t perBlock = isa.nc / nr;  // micro-panels per nc block
  const int64_t stripBlocks = std::max<int64_t>(1, kMaxPackedB / (p.k * isa.nc));
  const int64_t strip = std::min(round_up(p.n, isa.vl), stripBlocks * isa.nc);
  float* buf = tlsB.get(static_cast<size_t>(round_up(strip, nr) * p.k));
  for (int64_t s0 = 0; s0 < p.n; s0 += strip) {
    const int64_t width = std::min(strip, p.n - s0);
    const int64_t blocks = (width + isa.nc - 1) / isa.nc;
    const int64_t panels = (width + nr - 1) / nr;
    auto blockWidth = [&](int64_t b) { return std::min<int64_t>(isa.nc, width - b * isa.nc); };
    // Block (b, q) at b · nc · k + q · kc · round_up(block width, nr).
    auto block = [&](int64_t b, int64_t q) {
      return buf + b * isa.nc * p.k + q * isa.kc * round_up(blockWidth(b), nr);
    };

    // Phase 1: one item per micro-panel and pass.
    auto pack = [&](int64_t, int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) {
        const int64_t q = i / panels, j = i % panels, b = j / perBlock, jb = j % perBlock;
        pack_panels(isa, p, q, s0 + b * isa.nc, blockWidth(b), jb, jb + 1, block(b, q));
      }
    };
    if (threads > 1 && width * p.k >= 16384)
      parallel_for(passes * panels, 1, pack);
    else
      pack(0, 0, passes * panels);

    // Phase 2: tasks are A micro-panels × column slices; slices only when there are too few micro-panels to
    // keep every thread busy. A run of consecutive tasks goes block by block and pass by pass, so a packed B
    // block is reused across all of its rows.
    const int64_t want = 4 * static_cast<int64_t>(threads);
    const int64_t slices = threads == 1 || mPanels >= want ? 1 : std::min(panels, (want + mPanels - 1) / mPanels);
    const bool inPlace = std::min(perBlock, (panels + slices - 1) / slices) <= 2;
    auto work = [&](int64_t, int64_t t0, int64_t t1) {
      APanels ap{isa, p, inPlace, inPlace ? nullptr : tlsA.get(static_cast<size_t>(isa.mr * isa.kc))};
      for (int64_t b = 0; b < blocks; b++)
        for (int64_t q = 0; q < passes; q++)
          for (int64_t t = t0; t < t1; t++) {
            const int64_t ip = t / slices, s = t % slices;
            const int64_t j0 = std::max(panels * s / slices, b * perBlock);
            const int64_t j1 = std::min(panels * (s + 1) / slices, (b + 1) * perBlock);
            if (j0 < j1)
              row_panel(isa, p, ap, ip, q, block(b, q), s0 + b * isa.nc, blockWidth(b), j0 - b * perBlock,
                        j1 - b * perBlock);
          }
    };
    const int64_t tasks = mPanels * slices;
    if (threads > 1 && tasks > 1)
      parallel_for(tasks, 1, work);
    else
      work(0, 0, tasks);
  }
}

void run_own_b(const Isa& isa, const Problem& p, int threads) {
  const int nr = isa.nr();
  // One or two row panels (generation: a token per sequence) use each element of a row-major B once or twice:
  // packing it costs more than it saves (measured: up to 24 rows against 3072 × 768, 1.6-2×; packing wins from
  // ~64 rows). Only a last, partial micro-panel is packed then.
  const bool inPlaceB = p.m <= 2 * isa.mr && p.cbs == 1;
  const int64_t mPanels = (p.m + isa.mr - 1) / isa.mr;
  const int64_t passes = (p.k + isa.kc - 1) / isa.kc;
  const int64_t panels = (p.n + nr - 1) / nr;
  // Every slice packs A again: a small product (the LoRA rank against a hidden size, a few MFLOP) is cut only once
  // per thread, so packing does not outweigh the products (dA = xᵀ·d(x·A): 57% of OpenBLAS with 8 slices).
  const bool small = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k) < 3e7;
  const int64_t slices = std::min<int64_t>(panels, (small ? 1 : 4) * static_cast<int64_t>(threads));
  // Each task's columns, in nc blocks; micro-panel boundaries never move with the slicing.
  auto work = [&](int64_t, int64_t s0, int64_t s1) {
    const int64_t j0 = panels * s0 / slices, j1 = panels * s1 / slices;
    const int64_t perBlock = isa.nc / nr;
    APanels ap{isa, p, std::min(perBlock, j1 - j0) <= 2, nullptr};
    if (!ap.inPlace) ap.buf = tlsA.get(static_cast<size_t>(isa.mr * isa.kc));
    float* blk = tlsB.get(static_cast<size_t>(isa.kc * isa.nc));
    for (int64_t jb = j0; jb < j1; jb += perBlock) {
      const int64_t count = std::min(perBlock, j1 - jb);
      const int64_t col0 = jb * nr;
      const int64_t width = std::min<int64_t>(count * nr, p.n - col0);
      for (int64_t q = 0; q < passes; q++) {
        const int64_t packFrom = inPlaceB ? width / nr : 0;  // full micro-panels are read in place
        pack_panels(isa, p, q, col0, width, packFrom, count, blk);
        for (int64_t ip = 0; ip < mPanels; ip++) row_panel(isa, p, ap, ip, q, blk, col0, width, 0, count, inPlaceB);
      }
    }
  };
  if (threads > 1 && slices > 1)
    parallel_for(slices, 1, work);
  else
    work(0, 0, slices);
}

void run_dot(const Isa& isa, const Problem& p, int threads) {
  // The kernel wants each row of A contiguous along k; a transposed A (few rows) is copied first.
  const float* a = p.a;
  int64_t lda = p.ras;
  if (p.cas != 1) {
    float* buf = tlsA.get(static_cast<size_t>(p.m * p.k));
    int64_t i8 = 0, q8 = 0;  // the part done by 8 × 8 blocks
    if (isa.t8 != nullptr && p.ras == 1) {
      i8 = p.m / 8 * 8;
      q8 = p.k / 8 * 8;
      for (int64_t i = 0; i < i8; i += 8)
        for (int64_t q = 0; q < q8; q += 8) isa.t8(p.a + i + q * p.cas, p.cas, buf + i * p.k + q, p.k);
    }
    for (int64_t i = 0; i < p.m; i++)
      for (int64_t q = i < i8 ? q8 : 0; q < p.k; q++) buf[i * p.k + q] = p.a[i * p.ras + q * p.cas];
    a = buf;
    lda = p.k;
  }
  const int64_t groups = (p.n + isa.dj - 1) / isa.dj;
  // Column groups outer, rows inner: the dj columns of B in use (dj · k floats) stay in L1 for every row.
  auto work = [&](int64_t, int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; g++) {
      const int64_t j0 = g * isa.dj;
      const int cols = static_cast<int>(std::min<int64_t>(isa.dj, p.n - j0));
      for (int64_t i0 = 0; i0 < p.m; i0 += isa.dm) {
        const int rows = static_cast<int>(std::min<int64_t>(isa.dm, p.m - i0));
        isa.dot[rows - 1][cols - 1](p.k, a + i0 * lda, lda, p.b + j0 * p.cbs, p.cbs, p.c + i0 * p.rsc + j0 * p.csc,
                                    p.rsc, p.csc, p.alpha, p.beta);
      }
    }
  };
  if (threads > 1 && groups > 1)
    parallel_for(groups, 8, work);
  else
    work(0, 0, groups);
}

void run_rows(const Isa& isa, const Problem& p, int threads) {
  // Column slices of whole 64-float groups; each task sums its slice into its own accumulator rows (in L1 or L2),
  // then applies alpha and beta.
  constexpr int64_t kGroup = 64;
  const int64_t groups = (p.n + kGroup - 1) / kGroup;
  const int64_t slices = std::min<int64_t>(groups, threads == 1 ? 1 : 4 * static_cast<int64_t>(threads));
  auto work = [&](int64_t, int64_t s0, int64_t s1) {
    const int64_t j0 = std::min(p.n, groups * s0 / slices * kGroup);
    const int64_t j1 = std::min(p.n, groups * s1 / slices * kGroup);
    if (j1 <= j0) return;
    const int64_t w = j1 - j0;
    float* acc = tlsA.get(static_cast<size_t>(p.m * w));
    isa.rows[p.m - 1](p.k, p.a, p.ras, p.cas, p.b + j0, p.rbs, w, acc);
    for (int64_t i = 0; i < p.m; i++)
      for (int64_t j = 0; j < w; j++) {
        float& c = p.c[i * p.rsc + (j0 + j) * p.csc];
        const float x = acc[i * w + j];
        c = p.beta != 0.0f ? p.alpha * x + p.beta * c : (p.alpha != 1.0f ? p.alpha * x : x);
      }
  };
  if (threads > 1 && slices > 1)
    parallel_for(slices, 1, work);
  else
    work(0, 0, slices);
}

}  // namespace gemm
}  // namespace seal
