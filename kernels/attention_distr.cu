// DistrAttention on the GPU (docs/distrattention.md; every normative detail in distrvit/distr.h; CPU
// reference attention_distr_cpu in engine/src/attention_distr_cpu.cpp; tests tests/gpu/test_distr_gpu.cpp;
// timings BENCHMARKS.md "## DistrAttention kernel", bench/distr_bench.cu).
//
// Two kernels per call (plus a workspace of perm + Q~, grow-only, one per (device, stream)):
//
// 1. distr_group_kernel, one thread block per (Q block of l rows, b, h), ceil(D/2) * ceil(P/8) threads (past
//    128: 128 threads with up to 4 items each): the SimHash dots of the D columns x P bits, accumulated in fp32 in
//    ascending row order as fused multiply-adds (__fmaf_rn, like the CPU reference's std::fma), from the fp16/bf16
//    inputs converted to float. Rows stream through 4 smem slots of up to 32 rows (cp.async 16-byte pieces of the
//    Q rows and of R's rows, 3 chunks in flight while one is hashed; scalar copies where rows or R are not 16-byte
//    aligned); each thread owns 2 adjacent columns x 8 bits (16 independent sums; one 4-byte Q load and two 16-byte
//    R loads per row). Codes -> inverse Gray keys -> stable
//    argsort by rank counting over the packed (key, column) values. Then Q~ (mean: sum in group order / G; sample:
//    first member) as [B*H, N, EP] in the input dtype, EP = E = D/G rounded up to 16 with zero columns, from the Q
//    rows still in smem (blocks of up to 4 chunks, e.g. l <= 128 at D = 64 / 128 in 16 bits) or streamed through
//    the slots again; for G 1/2/4/8 each thread keeps the smem offsets of its (at most 16) source elements in
//    registers and writes up to 16 bytes of a Q~ row per step. The permutation goes to [B*H, nblocks, D] uint8.
//    Blocks of l > 256 rows (kHashChunkRows; distr.h sums their dots chunk by chunk): distr_hash_partials_kernel
//    (the same hash pass, a thread block per 256-row chunk) and distr_hash_codes_kernel (the chunks added in order)
//    hash first; then distr_group_kernel sorts from those codes and writes Q~ with a thread block per 256 rows.
//
// 2. distr_fwd_kernel (fp16/bf16, D 64/128): FlashAttention-2 structure (mma.sync m16n8k16, fp32
//    accumulation, online softmax with exp2, cp.async double buffering of K/V) with two differences:
//    - the Q tile is Q~ (EP columns), and S = Q~ K~^T runs over EP/16 k-steps instead of D/16;
//    - K~ is built in SHARED memory right after each K tile lands: every thread owns two adjacent K~
//      columns (j, j+1) for the whole kernel, keeps their 2G source columns (from the block's permutation)
//      in registers, and sums them in fp32 in group order over the tile's rows (G = 2: one packed
//      fp16x2/bf16x2 add: one rounding of the exact sum) -> sKt [BN][EP]. K is never
//      gathered from global memory; K~ is never written to global memory.
//    P V is unchanged (full D). 2 barriers per K tile (tile landed / K~ ready); the prefetch of tile j+1
//    is issued after K~(j) is built, so it overlaps the tile's matrix work.
//    Q tiles never straddle two l-blocks (each tile has one grouping, hence one K~): a block of l rows is
//    covered by ceil(l / BM) tiles of BM rows, the last one masked (rows past the block are zero Q~ rows
//    whose outputs are not stored). So any l is correct; the tensor cores do useless work on
//    ceil(l/BM)*BM - l rows: free for l a multiple of BM, 4x for l = 16 with BM = 64 (small l is slow).
//    BM = 128 (D 64: 4 warps x 32 rows; D 128: 8 warps x 16 rows) or 64 (4 warps x 16 rows), picked from
//    the padding waste and the last wave's occupancy.
//
// 3. On Hopper (sm_90a builds, compute capability 9.0), where every 64 query rows lie in one l-block, the forward
//    runs on wgmma instead (attention_distr_hopper.cuh, distr::Path::kHopper): same prologue, same K~ build.
//
// 4. Prefused (distr::Path::kPrefused; Hopper, few l-blocks: one, or two whose 128-row tiles don't straddle them;
//    automatic from N = 2048 on at head_dim 128):
//    the prologue writes Q~ with rows of kFusedPitch = 64 columns and attention_distr_kfused.cu writes the K~ of
//    every block to global memory once [B*H, nblocks, N, 64]; the forward is then the TMA-fed exact kernel
//    (attention_hopper_tma.cuh) with q = Q~, k = K~ (its block's), v = V and a q/k width of EP: no K~ build
//    in the key loop at all. The K~ write costs nblocks times the size of K, hence the limit on blocks.
//
// 5. Expanded (distr::Path::kExpanded; Hopper, any l): the prologue writes Q' [B*H, N, D] instead of Q~, column c
//    of row r being Q~[r, group of c] (attention_distr_expand.cu for l <= 64 and P <= 16, else fuse_rows with
//    GroupShape::expanded), and the forward is the TMA-fed exact kernel on (Q', K, V). Scores
//    sum_c Q~[r, g(c)] K[t, c] = sum_j Q~[r, j] K~[t, j]: DistrAttention's scores, with K~ never formed (the fp32
//    sum runs over the products instead of over fp16-rounded K~ sums). The products keep the full width D, so this
//    path saves no tensor-core work; it costs the exact kernel plus the prologue, which beats building K~ where the
//    softmax, not the products, sets the time (d = 64: BENCHMARKS.md).
//
// G = 1: the grouping only permutes columns of Q and K alike, so the scores equal exact attention's up to
// fp32 summation order; attention_distr() then calls attention_exact (the fused paths still run G = 1 when
// asked for explicitly, which the tests use). F32 or other head dims or unaligned rows: a generic kernel
// (one warp per query row, K~ columns summed from global memory on the fly; correct, slow).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "cuda_check.h"
#include "distrvit/distr.h"
#include "dtype_util.cuh"

namespace distrvit::cuda {
namespace distr {
namespace {

// ---- 1. grouping prologue --------------------------------------------------------------------------

constexpr int kMaxHeadDim = 256;         // perm is uint8
constexpr int kGroupMaxThreads = 128;
constexpr int kGroupStages = 4;          // chunk slots in smem: up to 3 chunks in flight while one is hashed
constexpr int kGroupMaxChunk = 32;       // rows per chunk
constexpr int kGroupChunkBytes = 12288;  // smem a chunk may take (fewer rows when records are long, at least 8)
constexpr int kColsPerItem = 2;          // an item is 2 adjacent columns x 8 bits: 16 independent sums
constexpr int kBitsPerItem = 8;
// Dynamic smem past the slots: codes [D4] uint32, sort keys [D4] uint64, order and rank [D4] uint8 (D4 = D rounded
// up to 4).
constexpr int kGroupSortBytesPerColumn = 4 + 8 + 1 + 1;
constexpr int kGroupSortBytes = kMaxHeadDim * kGroupSortBytesPerColumn;
constexpr int kGroupMaxSmem = kGroupStages * kGroupChunkBytes + kGroupSortBytes;

// What launch_group works out once per call for every thread block.
struct GroupShape {
  int block_len, nblocks, hash_bits, group, fused, fused_pad;
  bool sample;
  bool expanded;       // write Q' = Q~ S^T [rows][D] (column c: its group's Q~ value) instead of Q~ (fused = D)
  int chunk_rows;      // rows per chunk (<= kGroupMaxChunk)
  int record_bytes;    // smem per row: the Q row (q_bytes, dtype T), then its R row (slices * 8 floats), padding
  int q_bytes;         // D * sizeof(T) rounded up to 16
  int slots_bytes;     // smem of the chunk slots; the sort arrays follow
  int items;           // (column pair, 8-bit slice) items: ceil(D / 2) * slices
  int q_pieces;        // 16-byte pieces of a Q row (vec_q), else 1
  int r_pieces;        // 16-byte pieces of an R row (slices * 2)
  int fuse_slots;      // Q~ column groups of fuse_columns<T>(G) per row
  bool vec_q;          // Q rows start 16-byte aligned and are whole 16-byte pieces: cp.async; else scalar copies
  bool vec_r;          // R 16-byte aligned and P % 4 == 0: cp.async; else scalar copies
  bool vec_out;        // Q~ rows 16-byte aligned: vector stores
  const uint32_t* codes_in = nullptr;  // long blocks: codes [B*H][nblocks][D] from distr_hash_codes_kernel
  int row_splits = 1;                  // with codes_in: thread blocks per l-block, each writing Q~ for its rows
};

// Runs consume(k) for the chunks k = 0 .. nchunks-1 of a block in ascending order, chunk k in slot
// k % kGroupStages, after load(k) has filled it (cp.async, or plain copies, made visible by the barrier); the
// next kGroupStages - 1 chunks are in flight meanwhile. When nchunks <= kGroupStages, chunk k stays in slot k.
// Starts with no cp.async group pending and every thread done with the slots; leaves only empty groups pending.
template <typename Load, typename Consume>
__device__ __forceinline__ void stream_chunks(const int nchunks, Load&& load, Consume&& consume) {
#pragma unroll 1
  for (int k = 0; k < kGroupStages - 1; ++k) {
    if (k < nchunks) load(k);
    ptx::cp_async_commit();
  }
  for (int k = 0; k < nchunks; ++k) {
    ptx::cp_async_wait<kGroupStages - 2>();  // chunk k (this thread's part)
    __syncthreads();                         // ... everyone's; and slot (k - 1) % kGroupStages is free
    if (k + kGroupStages - 1 < nchunks) load(k + kGroupStages - 1);
    ptx::cp_async_commit();
    consume(k);
  }
}

// Q~ columns a thread writes per row: 16 bytes, fewer for G 4 / 8 so that its source columns (<= 16) stay in registers.
template <typename T>
constexpr int fuse_columns(int group) {
  const int vec = 16 / int(sizeof(T));
  return group == 1 || group == 2 || group == 4 || group == 8 ? std::min(vec, 16 / group) : vec;
}

// kOut consecutive Q~ values -> dst (rounded to T like from_float; one vector store when `vec`).
template <typename T, int kOut>
__device__ __forceinline__ void store_fused(T* dst, const float (&v)[kOut], bool vec) {
  if constexpr (sizeof(T) == 2 && kOut % 2 == 0) {
    if (vec) {
      Pack<uint32_t, kOut / 2> pack;
#pragma unroll
      for (int i = 0; i < kOut / 2; ++i) pack.v[i] = ptx::pack2<T>(v[2 * i], v[2 * i + 1]);
      *reinterpret_cast<Pack<uint32_t, kOut / 2>*>(dst) = pack;
      return;
    }
  } else if constexpr (sizeof(T) == 4) {
    if (vec) {
      Pack<float, kOut> pack;
#pragma unroll
      for (int i = 0; i < kOut; ++i) pack.v[i] = v[i];
      *reinterpret_cast<Pack<float, kOut>*>(dst) = pack;
      return;
    }
  }
#pragma unroll
  for (int i = 0; i < kOut; ++i) dst[i] = from_float<T>(v[i]);
}

// Writes the block's Q~ rows [rows][fused_pad] at qf, reading the Q rows from the smem slots: where the hash pass
// left them all (resident), else streaming them through the slots again. Thread t owns Q~ columns
// slot * kOut .. + kOut - 1 (slot = t % fuse_slots) of rows t / fuse_slots + i * row_step of every chunk.
// kGroup > 0: G = kGroup, and the smem offsets of the slot's kOut * G source elements (from the base of the row
// group, the same for all threads) stay in registers. kGroup == 0: any G, columns read from `order`.
// s.expanded: output column c is Q~ column rank[c] / G (its group's), so every one of the D columns is written.
template <typename T, int kGroup, typename Load>
__device__ __forceinline__ void fuse_rows(const unsigned char* smem, const uint8_t* order, const uint8_t* rank,
                                          const GroupShape& s,
                                          const int rows, const int nchunks, const bool resident, Load&& load,
                                          T* qf) {
  constexpr int kOut = fuse_columns<T>(kGroup > 0 ? kGroup : 3);
  constexpr int kMembers = kGroup > 0 ? kOut * kGroup : 1;
  const int rec = s.record_bytes;
  const unsigned tid = threadIdx.x;
  const int slot = int(tid % unsigned(s.fuse_slots)), sub_row = int(tid / unsigned(s.fuse_slots));
  const int row_step = int(blockDim.x / unsigned(s.fuse_slots));
  if (sub_row >= row_step) {  // no rows of its own, but it takes part in the barriers of streaming
    if (!resident) stream_chunks(nchunks, load, [](int) {});
    return;
  }
  uint32_t offset[kMembers];  // member m = e * G + g: column order[(slot * kOut + e) * G + g] of row sub_row
  uint32_t live = 0;          // bit e: Q~ column slot * kOut + e < E (else it is 0)
#pragma unroll
  for (int e = 0; e < kOut; ++e) {
    const int j = slot * kOut + e;
    if (j < s.fused) live |= 1u << e;
    if constexpr (kGroup > 0) {
      const int group = j < s.fused && s.expanded ? rank[j] / kGroup : j;
#pragma unroll
      for (int g = 0; g < kGroup; ++g)
        offset[e * kGroup + g] = sub_row * rec + (j < s.fused ? int(order[group * kGroup + g]) : 0) * int(sizeof(T));
    }
  }
  auto chunk = [&](int k) {
    const unsigned char* rows_base = smem + (k % kGroupStages) * s.chunk_rows * rec;
    const int r0 = k * s.chunk_rows, cr = min(s.chunk_rows, rows - r0);
    T* out = qf + int64_t(r0 + sub_row) * s.fused_pad + slot * kOut;
    for (int rb = 0; rb < cr; rb += row_step, rows_base += row_step * rec, out += row_step * s.fused_pad) {
      if (rb + sub_row >= cr) break;
      float v[kOut];
      if constexpr (kGroup > 0) {
        auto element = [&](int m) { return to_float(*reinterpret_cast<const T*>(rows_base + offset[m])); };
        if (s.sample) {
#pragma unroll
          for (int e = 0; e < kOut; ++e) v[e] = element(e * kGroup);
        } else {
          // The reference sums 0 + x_0 + ... + x_{G-1} in group order and divides by G. Without the leading 0 the
          // sum differs only where every x_g is -0 (-0 instead of +0); fma(sum, 1/G, +0) turns that -0 into +0
          // and is otherwise the product rounded once, = sum / G (G a power of 2).
#pragma unroll
          for (int e = 0; e < kOut; ++e) {
            float sum = element(e * kGroup);
#pragma unroll
            for (int g = 1; g < kGroup; ++g) sum = __fadd_rn(sum, element(e * kGroup + g));
            v[e] = __fmaf_rn(sum, 1.0f / kGroup, 0.0f);
          }
        }
        if (live != (1u << kOut) - 1) {
#pragma unroll
          for (int e = 0; e < kOut; ++e) v[e] = live >> e & 1 ? v[e] : 0.0f;
        }
      } else {
        const T* q = reinterpret_cast<const T*>(rows_base + sub_row * rec);
#pragma unroll
        for (int e = 0; e < kOut; ++e) {
          const int j = slot * kOut + e;
          float value = 0.0f;
          if (j < s.fused) {
            const uint8_t* members = order + (s.expanded ? rank[j] / s.group : j) * s.group;
            if (s.sample) {
              value = to_float(q[members[0]]);
            } else {
              for (int g = 0; g < s.group; ++g) value = __fadd_rn(value, to_float(q[members[g]]));
              value = __fdiv_rn(value, float(s.group));
            }
          }
          v[e] = value;
        }
      }
      store_fused<T, kOut>(out, v, s.vec_out);
    }
  };
  if (resident) {
    for (int k = 0; k < nchunks; ++k) chunk(k);
  } else {
    stream_chunks(nchunks, load, chunk);
  }
}

// Copies `rows` rows of Q (row r at gq + r * ts) and of R (row r at projection + r * P) chunk by chunk into the
// slots: chunk k (rows [k * chunk_rows, + cr)) -> slot k % kGroupStages, one record per row (the Q row, then its R
// row when with_r). Copy assignments are fixed per thread: 16-byte piece (tid % pieces) of rows tid / pieces +
// i * (threads / pieces); threads past a multiple of `pieces` copy nothing.
template <typename T>
struct ChunkLoader {
  unsigned char* smem;
  const GroupShape& s;
  const T* gq;
  int64_t ts;
  const float* projection;
  int rows, D, q_rstep, r_rstep, q_row0, q_piece, r_row0, r_piece;
  bool r_valid;  // bits past P (whole 16-byte pieces, P % 4 == 0) are zero-filled

  __device__ ChunkLoader(unsigned char* smem_, const GroupShape& s_, const T* gq_, int64_t ts_,
                         const float* projection_, int rows_, int D_)
      : smem(smem_), s(s_), gq(gq_), ts(ts_), projection(projection_), rows(rows_), D(D_) {
    const unsigned tid = threadIdx.x, nthreads = blockDim.x;
    q_rstep = int(nthreads / unsigned(s.q_pieces));
    r_rstep = int(nthreads / unsigned(s.r_pieces));
    q_row0 = int(tid / unsigned(s.q_pieces));
    q_piece = int(tid) - q_row0 * s.q_pieces;
    r_row0 = int(tid / unsigned(s.r_pieces));
    r_piece = int(tid) - r_row0 * s.r_pieces;
    r_valid = r_piece * 4 < s.hash_bits;
  }

  __device__ void operator()(int k, bool with_r) const {
    constexpr int kElems16 = 16 / int(sizeof(T));
    const int rec = s.record_bytes, P = s.hash_bits, tid = int(threadIdx.x), nthreads = int(blockDim.x);
    unsigned char* slot = smem + (k % kGroupStages) * s.chunk_rows * rec;
    const int r0 = k * s.chunk_rows, cr = min(s.chunk_rows, rows - r0);
    if (s.vec_q) {
      if (q_row0 < q_rstep) {
        const T* src = gq + int64_t(r0 + q_row0) * ts + q_piece * kElems16;
        uint32_t dst = ptx::smem_addr(slot + q_row0 * rec + q_piece * 16);
        for (int r = q_row0; r < cr; r += q_rstep, src += q_rstep * ts, dst += q_rstep * rec)
          ptx::cp_async_16(dst, src, true);
      }
    } else {
      for (int i = tid; i < cr * D; i += nthreads) {
        const int r = i / D, c = i - r * D;
        reinterpret_cast<T*>(slot + r * rec)[c] = gq[int64_t(r0 + r) * ts + c];
      }
    }
    if (!with_r) return;
    if (s.vec_r) {
      if (r_row0 < r_rstep) {
        const float* src = projection + int64_t(r0 + r_row0) * P + r_piece * 4;
        uint32_t dst = ptx::smem_addr(slot + r_row0 * rec + s.q_bytes + r_piece * 16);
        for (int r = r_row0; r < cr; r += r_rstep, src += r_rstep * P, dst += r_rstep * rec)
          ptx::cp_async_16(dst, r_valid ? src : projection, r_valid);
      }
    } else {
      const int r_floats = s.r_pieces * 4;
      for (int i = tid; i < cr * r_floats; i += nthreads) {
        const int r = i / r_floats, c = i - r * r_floats;
        reinterpret_cast<float*>(slot + r * rec + s.q_bytes)[c] =
            c < P ? projection[int64_t(r0 + r) * P + c] : 0.0f;
      }
    }
  }
};

// Item i of the hash pass: columns col0, col0 + 1 (col0 = 2 (i % pairs)) x bits bit0 .. bit0 + 7
// (bit0 = 8 (i / pairs)).
struct HashItem {
  int index, col0, bit0;
  __device__ HashItem(int i, int D) : index(i) {
    const int pairs = (D + kColsPerItem - 1) / kColsPerItem, slice = i / pairs;
    col0 = (i - slice * pairs) * kColsPerItem;
    bit0 = slice * kBitsPerItem;
  }
};

// The SimHash dots of the rows that `load` streams through the slots: acc[it][col][e] = sum over the rows in
// ascending order, as fused multiply-adds from 0 (as on the CPU), of Q[r][col0 + col] R[r][bit0 + e] for this
// thread's items tid + it * threads (bits past P have R = 0). Every thread of the block takes part (barriers).
template <typename T, int kItems>
__device__ __forceinline__ void hash_rows(const ChunkLoader<T>& load,
                                          float (&acc)[kItems][kColsPerItem][kBitsPerItem]) {
  const GroupShape& s = load.s;
  const unsigned char* smem = load.smem;
  const int D = load.D, rows = load.rows;
  const int rec = s.record_bytes, chunk_rows = s.chunk_rows, nchunks = (rows + chunk_rows - 1) / chunk_rows;
  int item_q[kItems], item_r[kItems];  // byte offsets of the item's Q columns / R bits inside a record
#pragma unroll
  for (int it = 0; it < kItems; ++it) {
    const HashItem item(int(threadIdx.x + it * blockDim.x), D);
    item_q[it] = item.col0 * int(sizeof(T));
    item_r[it] = s.q_bytes + item.bit0 * int(sizeof(float));
#pragma unroll
    for (int col = 0; col < kColsPerItem; ++col)
#pragma unroll
      for (int e = 0; e < kBitsPerItem; ++e) acc[it][col][e] = 0.0f;
  }
  stream_chunks(
      nchunks, [&](int k) { load(k, true); },
      [&](int k) {
        const unsigned char* slot = smem + (k % kGroupStages) * chunk_rows * rec;
        const int cr = min(chunk_rows, rows - k * chunk_rows);
#pragma unroll
        for (int it = 0; it < kItems; ++it) {
          if (int(threadIdx.x + it * blockDim.x) >= s.items) break;
          const unsigned char* qp = slot + item_q[it];
          const unsigned char* rp = slot + item_r[it];
#pragma unroll 4
          for (int r = 0; r < cr; ++r) {
            const float2 q2 = load_pair<T>(qp + r * rec);
            const float4 ra = *reinterpret_cast<const float4*>(rp + r * rec);
            const float4 rb = *reinterpret_cast<const float4*>(rp + r * rec + 16);
            const float q[kColsPerItem] = {q2.x, q2.y};
            const float rv[kBitsPerItem] = {ra.x, ra.y, ra.z, ra.w, rb.x, rb.y, rb.z, rb.w};
#pragma unroll
            for (int col = 0; col < kColsPerItem; ++col)
#pragma unroll
              for (int e = 0; e < kBitsPerItem; ++e) acc[it][col][e] = __fmaf_rn(q[col], rv[e], acc[it][col][e]);
          }
        }
      });
}

// One thread block per (Q block, b*h); blockDim.x = ceil(items / kItems) rounded up to a warp (<= 128), at least
// q_pieces and fuse_slots. Dynamic smem: min(kGroupStages, chunks of l) slots of [chunk_rows][record_bytes], then
// the sort arrays.
template <typename T, int kItems>
__global__ void __launch_bounds__(kGroupMaxThreads, kItems == 1 ? 7 : 4)
    distr_group_kernel(const AttentionDeviceParams p, const GroupShape s, const float* __restrict__ projection,
                       uint8_t* __restrict__ perm_out, T* __restrict__ qf_out, const int bh_offset) {
  extern __shared__ __align__(16) unsigned char smem[];  // [slot][chunk_rows][record_bytes], sort arrays
  const int D = p.head_dim, N = p.tokens, P = s.hash_bits;
  const int d4 = (D + 3) / 4 * 4;  // sort keys padded to a multiple of 4 with the largest value
  uint32_t* codes = reinterpret_cast<uint32_t*>(smem + s.slots_bytes);  // [d4]
  uint64_t* sort_keys = reinterpret_cast<uint64_t*>(codes + d4);        // [d4] (key << 8 | c): uint32 when P <= 23
  uint8_t* order = reinterpret_cast<uint8_t*>(sort_keys + d4);          // [d4]
  uint8_t* rank_of = order + d4;                                        // [d4] the inverse of order

  const unsigned tid = threadIdx.x, nthreads = blockDim.x;
  const int blk = blockIdx.x / s.row_splits, bh = bh_offset + blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  // This thread block's rows: the whole l-block, or with codes_in its share (row_splits thread blocks per l-block).
  const int block_start = blk * s.block_len, block_rows = min(s.block_len, N - block_start);
  const int share = (block_rows + s.row_splits - 1) / s.row_splits, split = blockIdx.x % s.row_splits;
  const int start = block_start + split * share, rows = max(0, min(share, block_rows - split * share));
  const int64_t ts = p.qkv_token_stride;
  const T* gq = static_cast<const T*>(p.q) + int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride +
                int64_t(start) * ts;  // [rows][D] at stride ts
  const int nchunks = (rows + s.chunk_rows - 1) / s.chunk_rows;
  const bool resident = !s.codes_in && nchunks <= kGroupStages;  // the hash pass left the rows in the slots

  const ChunkLoader<T> load(smem, s, gq, ts, projection, rows, D);

  if (s.codes_in) {  // hashed beforehand: long blocks (distr_hash_*_kernel), the Int8 hash (attention_distr_int8.cu)
    for (int c = tid; c < D; c += nthreads) codes[c] = s.codes_in[(int64_t(bh) * s.nblocks + blk) * D + c];
  } else {
    for (int c = tid; c < D; c += nthreads) codes[c] = 0;

    float acc[kItems][kColsPerItem][kBitsPerItem];
    hash_rows<T, kItems>(load, acc);

    // Codes: bit p = dot_p > 0.
#pragma unroll
    for (int it = 0; it < kItems; ++it) {
      const HashItem item(int(tid + it * nthreads), D);
      if (item.index >= s.items) break;
      const int c0 = item.col0, bit0 = item.bit0;
#pragma unroll
      for (int col = 0; col < kColsPerItem; ++col) {
        uint32_t bits = 0;
#pragma unroll
        for (int e = 0; e < kBitsPerItem; ++e)
          if (bit0 + e < P && acc[it][col][e] > 0.0f) bits |= 1u << (bit0 + e);
        if (bits && c0 + col < D) atomicOr(&codes[c0 + col], bits);
      }
    }
  }
  __syncthreads();
  // Stable argsort: rank(c) = #columns with (key, index) below (key_c, c); pi[rank(c)] = c.
  const bool narrow = P <= 23;  // key << 8 | c < 2^31
  uint32_t* keys32 = reinterpret_cast<uint32_t*>(sort_keys);
  for (int c = tid; c < d4; c += nthreads) {
    const uint32_t key = inverse_gray_code(c < D ? codes[c] : 0);
    if (narrow) keys32[c] = c < D ? key << 8 | uint32_t(c) : ~0u;
    else sort_keys[c] = c < D ? uint64_t(key) << 8 | uint64_t(c) : ~uint64_t(0);
  }
  __syncthreads();
  uint8_t* perm = perm_out + (int64_t(bh) * s.nblocks + blk) * D;
  for (int c = tid; c < D; c += nthreads) {
    int rank = 0;
    if (narrow) {
      const uint32_t mine = keys32[c];  // < 2^31, so (k - mine) >> 31 = (k < mine) for the real keys
#pragma unroll 4
      for (int j = 0; j < d4; j += 4) {
        const uint4 k4 = *reinterpret_cast<const uint4*>(&keys32[j]);
        rank += int((k4.x - mine) >> 31) + int((k4.y - mine) >> 31) + int((k4.z - mine) >> 31) +
                int((k4.w - mine) >> 31);
      }
      rank -= d4 - D;  // the padding keys ~0u: (~0u - mine) >> 31 = 1
    } else {
      const uint64_t mine = sort_keys[c];
#pragma unroll 2
      for (int j = 0; j < d4; j += 2) {
        const ulonglong2 k2 = *reinterpret_cast<const ulonglong2*>(&sort_keys[j]);
        rank += int(k2.x < mine) + int(k2.y < mine);
      }
    }
    order[rank] = uint8_t(c);
    rank_of[c] = uint8_t(rank);
    if (split == 0) perm[rank] = uint8_t(c);  // every split sorts alike
  }
  __syncthreads();

  // Q~ rows of this block: [rows][fused_pad], zeros past `fused`.
  T* qf = qf_out + (int64_t(bh) * N + start) * s.fused_pad;
  ptx::cp_async_wait<0>();
  auto reload = [&](int k) { load(k, false); };
  switch (s.group) {
    case 1: return fuse_rows<T, 1>(smem, order, rank_of, s, rows, nchunks, resident, reload, qf);
    case 2: return fuse_rows<T, 2>(smem, order, rank_of, s, rows, nchunks, resident, reload, qf);
    case 4: return fuse_rows<T, 4>(smem, order, rank_of, s, rows, nchunks, resident, reload, qf);
    case 8: return fuse_rows<T, 8>(smem, order, rank_of, s, rows, nchunks, resident, reload, qf);
    default: return fuse_rows<T, 0>(smem, order, rank_of, s, rows, nchunks, resident, reload, qf);
  }
}

// ---- 1b. hash sums of long blocks, chunk by chunk --------------------------------------------------------

// A block of more than kHashChunkRows rows is hashed in two steps that follow distr.h's chunked sums:
// distr_hash_partials_kernel, one thread block per (256-row chunk, l-block, b, h), runs distr_group_kernel's hash
// pass (hash_rows) over its chunk and writes every (column, bit) sum; distr_hash_codes_kernel adds them up chunk by
// chunk and writes the codes. Then distr_group_kernel sorts from the codes and writes Q~ (GroupShape::codes_in),
// row_splits thread blocks per l-block. One thread block hashing all l rows (distr_group_kernel alone) keeps every
// sum serial over l rows: 0.94 ms at l = N = 16384, d = 128, 16 heads.
constexpr int kHashThreads = 256;        // of distr_hash_codes_kernel
constexpr int kGroupRowsPerSplit = 256;  // rows of Q~ per distr_group_kernel thread block with codes_in

// partials: [B*H][nblocks][chunks][D][P] fp32. Threads as for distr_group_kernel; dynamic smem: its slots.
template <typename T, int kItems>
__global__ void __launch_bounds__(kGroupMaxThreads, kItems == 1 ? 7 : 4)
    distr_hash_partials_kernel(const AttentionDeviceParams p, const GroupShape s, const float* __restrict__ projection,
                               float* __restrict__ partials, const int chunks, const int bh_offset) {
  extern __shared__ __align__(16) unsigned char smem[];  // [slot][chunk_rows][record_bytes]
  const int D = p.head_dim, P = s.hash_bits;
  const int blk = blockIdx.x / chunks, chunk = blockIdx.x - blk * chunks, bh = bh_offset + blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int block_rows = min(s.block_len, p.tokens - blk * s.block_len);
  const int r0 = chunk * kHashChunkRows, rows = min(kHashChunkRows, block_rows - r0);
  if (rows <= 0) return;  // past a short last l-block: the whole thread block
  const int64_t ts = p.qkv_token_stride;
  const T* gq = static_cast<const T*>(p.q) + int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride +
                int64_t(blk * s.block_len + r0) * ts;  // the chunk's rows [rows][D] at stride ts
  const ChunkLoader<T> load(smem, s, gq, ts, projection + int64_t(r0) * P, rows, D);
  float acc[kItems][kColsPerItem][kBitsPerItem];
  hash_rows<T, kItems>(load, acc);
  float* out = partials + ((int64_t(bh) * s.nblocks + blk) * chunks + chunk) * D * P;
#pragma unroll
  for (int it = 0; it < kItems; ++it) {
    const HashItem item(int(threadIdx.x + it * blockDim.x), D);
    if (item.index >= s.items) break;
#pragma unroll
    for (int col = 0; col < kColsPerItem; ++col)
#pragma unroll
      for (int e = 0; e < kBitsPerItem; ++e)
        if (item.col0 + col < D && item.bit0 + e < P) out[(item.col0 + col) * P + item.bit0 + e] = acc[it][col][e];
  }
}

// One warp per (b, h, l-block, column), lane p = bit p: dot_p = the chunk partials added in ascending order;
// the code is the ballot of dot_p > 0. codes: [B*H][nblocks][D].
__global__ void __launch_bounds__(kHashThreads)
    distr_hash_codes_kernel(const float* __restrict__ partials, uint32_t* __restrict__ codes, const int D,
                            const int P, const int nblocks, const int chunks, const int block_len, const int tokens,
                            const int64_t columns) {  // columns = B*H * nblocks * D
  const int64_t warp = (int64_t(blockIdx.x) * kHashThreads + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= columns) return;  // whole warps
  const int64_t bb = warp / D;  // bh * nblocks + blk
  const int col = int(warp - bb * D), blk = int(bb % nblocks);
  const int block_rows = min(block_len, tokens - blk * block_len);
  const int used = (block_rows + kHashChunkRows - 1) / kHashChunkRows;
  float dot = 0.0f;
  if (lane < P) {
    const float* part = partials + bb * chunks * D * P + int64_t(col) * P + lane;
    for (int k = 0; k < used; ++k) dot = __fadd_rn(dot, part[int64_t(k) * D * P]);
  }
  const uint32_t code = __ballot_sync(0xffffffffu, lane < P && dot > 0.0f);
  if (lane == 0) codes[warp] = code;
}

// ---- 2. fused flash kernel ---------------------------------------------------------------------------

template <int kHeadDim_, int kGroup_, int kWarps_, int kMTiles_, int kBlockN_>
struct Config {
  static constexpr int D = kHeadDim_;
  static constexpr int G = kGroup_;
  static constexpr int E = D / G;                  // fused columns
  static constexpr int EP = E < 16 ? 16 : E;       // padded to the mma k step
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int MT = kMTiles_;              // m16 tiles per warp
  static constexpr int BM = kWarps * 16 * MT;      // Q rows per block
  static constexpr int BN = kBlockN_;              // keys per tile
  static constexpr int kPitchD = D + 8;            // smem pitches in elements (+16 bytes: ldmatrix conflict-free)
  static constexpr int kPitchE = EP + 8;
  static constexpr int kSmemQ = BM * kPitchE;      // Q~ tile
  static constexpr int kSmemKV = BN * kPitchD;     // one K or V stage
  static constexpr int kSmemKt = BN * kPitchE;     // K~ tile
  static constexpr size_t kSmemBytes = size_t(kSmemQ + 4 * kSmemKV + kSmemKt) * 2;
  static constexpr int kPairs = EP / 2;            // K~ column pairs per row
  static constexpr int kRowStep = kThreads / kPairs;
  static constexpr int kMinBlocks = kThreads >= 256 ? 1 : 2;
  static_assert(D % G == 0 && D % 16 == 0 && BN % 16 == 0, "tile shapes");
  static_assert(kThreads % kPairs == 0 && BN % kRowStep == 0, "K~ build mapping");
  static_assert(BM <= 2 * BN, "the epilogue stages O in the K stages");
};

// Rows [row0, row0 + kRows) of a [rows][kCols] matrix (row r at g + r * row_stride) -> smem rows of pitch
// kPitch; rows at or past rows_valid become zeros (nothing is read for them).
template <int kRows, int kCols, int kPitch, int kThreads, typename T>
__device__ __forceinline__ void load_tile_async(T* smem, const T* g, int64_t row_stride, int row0, int rows_valid,
                                                int tid) {
  constexpr int kChunks = kCols / 8;
  constexpr int kTotal = kRows * kChunks;
#pragma unroll
  for (int it = 0; it < (kTotal + kThreads - 1) / kThreads; ++it) {
    const int i = tid + it * kThreads;
    if (kTotal % kThreads != 0 && i >= kTotal) break;
    const int r = i / kChunks, c = i % kChunks;
    const int gr = row0 + r;
    const bool valid = gr < rows_valid;
    const T* src = g + (valid ? int64_t(gr) * row_stride + c * 8 : 0);
    ptx::cp_async_16(ptx::smem_addr(smem + r * kPitch + c * 8), src, valid);
  }
}

template <typename T, typename Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    distr_fwd_kernel(const AttentionDeviceParams p, const T* __restrict__ q_fused, const uint8_t* __restrict__ perm,
                     const int block_len, const int nblocks, const int tiles_per_block, const float scale_log2,
                     const int bh_offset) {
  constexpr int D = Cfg::D, G = Cfg::G, E = Cfg::E, EP = Cfg::EP, BN = Cfg::BN, MT = Cfg::MT;
  constexpr int PD = Cfg::kPitchD, PE = Cfg::kPitchE;
  constexpr int kDTiles = D / 8, kNTiles = BN / 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // [BM][PE]  Q~ tile
  T* sK = sQ + Cfg::kSmemQ;                // [2][BN][PD]
  T* sV = sK + 2 * Cfg::kSmemKV;           // [2][BN][PD]
  T* sKt = sV + 2 * Cfg::kSmemKV;          // [BN][PE]  K~ tile

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int bh = bh_offset + blockIdx.y;
  const int b = bh / p.heads, h = bh % p.heads;
  const int N = p.tokens;
  const int blk = blockIdx.x / tiles_per_block, sub = blockIdx.x % tiles_per_block;
  const int block_start = blk * block_len;
  const int row0 = block_start + sub * Cfg::BM;
  const int row_end = min(block_start + block_len, N);  // rows of this tile's l-block end here
  if (row0 >= row_end) return;                          // (only in the last, shorter block)
  const int n_tiles = (N + BN - 1) / BN;
  const int64_t ts = p.qkv_token_stride;
  const int64_t head_off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  const T* gk = static_cast<const T*>(p.k) + head_off;  // [N][D] rows at stride ts
  const T* gv = static_cast<const T*>(p.v) + head_off;
  const T* gqf = q_fused + int64_t(bh) * N * EP;        // [N][EP]

  load_tile_async<Cfg::BM, EP, PE, Cfg::kThreads>(sQ, gqf, EP, row0, row_end, tid);
  load_tile_async<BN, D, PD, Cfg::kThreads>(sK, gk, ts, 0, N, tid);
  load_tile_async<BN, D, PD, Cfg::kThreads>(sV, gv, ts, 0, N, tid);
  ptx::cp_async_commit();

  // K~ build: this thread owns columns (2 jp, 2 jp + 1) of rows kr0, kr0 + kRowStep, ...; its 2G source
  // columns (group order) stay in registers.
  const int jp = tid % Cfg::kPairs, kr0 = tid / Cfg::kPairs;
  int src_col[2][G];
  {
    const uint8_t* pm = perm + (int64_t(bh) * nblocks + blk) * D;
#pragma unroll
    for (int e = 0; e < 2; ++e)
#pragma unroll
      for (int g = 0; g < G; ++g) src_col[e][g] = (2 * jp + e < E) ? int(pm[(2 * jp + e) * G + g]) : 0;
  }

  const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_col = (lane >> 4) * 8;  // Q~ (A)
  const int k_row = (lane & 7) + (lane >> 4) * 8, k_col = ((lane >> 3) & 1) * 8;  // K~ (B, non-trans)
  const int warp_row0 = warp * 16 * MT;

  float acc_o[MT][kDTiles][4];
  float row_max[MT][2], row_sum[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[mt][dt][e] = 0.0f;
    row_max[mt][0] = row_max[mt][1] = -INFINITY;
    row_sum[mt][0] = row_sum[mt][1] = 0.0f;
  }
  uint32_t q_frag[MT][EP / 16][4];

  for (int j = 0; j < n_tiles; ++j) {
    const int stage = j & 1;
    ptx::cp_async_wait<0>();  // tile j (the only group in flight)
    __syncthreads();          // ... visible to all; every warp is done with tile j-1 (sKt, stage^1)
    if (j == 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int ks = 0; ks < EP / 16; ++ks)
          ptx::ldmatrix_x4(q_frag[mt][ks], ptx::smem_addr(sQ + (warp_row0 + mt * 16 + a_row) * PE + ks * 16 + a_col));
    }
    // K~ [BN][EP] of tile j, fp32 sums in group order, rounded to T.
    {
      const T* sKs = sK + stage * Cfg::kSmemKV;
#pragma unroll
      for (int r = kr0; r < BN; r += Cfg::kRowStep) {
        const T* krow = sKs + r * PD;
        if constexpr (G == 2) {
          // Packed: {k[c00], k[c10]} + {k[c01], k[c11]} in one HADD2 (each sum rounded once, as below).
          const uint16_t* k16 = reinterpret_cast<const uint16_t*>(krow);
          const uint32_t first = uint32_t(k16[src_col[0][0]]) | (uint32_t(k16[src_col[1][0]]) << 16);
          const uint32_t second = uint32_t(k16[src_col[0][1]]) | (uint32_t(k16[src_col[1][1]]) << 16);
          *reinterpret_cast<uint32_t*>(sKt + r * PE + 2 * jp) = ptx::add2<T>(first, second);
          continue;
        }
        float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
        for (int g = 0; g < G; ++g) {
          s0 += to_float(krow[src_col[0][g]]);
          s1 += to_float(krow[src_col[1][g]]);
        }
        if constexpr (E < EP) {
          if (2 * jp >= E) s0 = 0.0f;
          if (2 * jp + 1 >= E) s1 = 0.0f;
        }
        *reinterpret_cast<uint32_t*>(sKt + r * PE + 2 * jp) = ptx::pack2<T>(s0, s1);
      }
    }
    __syncthreads();  // K~ ready; nobody reads stage^1 any more
    if (j + 1 < n_tiles) {
      load_tile_async<BN, D, PD, Cfg::kThreads>(sK + (stage ^ 1) * Cfg::kSmemKV, gk, ts, (j + 1) * BN, N, tid);
      load_tile_async<BN, D, PD, Cfg::kThreads>(sV + (stage ^ 1) * Cfg::kSmemKV, gv, ts, (j + 1) * BN, N, tid);
      ptx::cp_async_commit();
    }

    // S = Q~ K~^T  [16*MT x BN] per warp over EP columns, fp32.
    float s[MT][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < EP / 16; ++ks) {
#pragma unroll
      for (int nb = 0; nb < BN / 16; ++nb) {
        uint32_t kb[4];
        ptx::ldmatrix_x4(kb, ptx::smem_addr(sKt + (nb * 16 + k_row) * PE + ks * 16 + k_col));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          ptx::mma_16816<T>(s[mt][2 * nb], q_frag[mt][ks], kb[0], kb[1]);
          ptx::mma_16816<T>(s[mt][2 * nb + 1], q_frag[mt][ks], kb[2], kb[3]);
        }
      }
    }
    if (j == n_tiles - 1 && N % BN != 0) mask_tail_keys(s, j * BN, lane, N);  // keys past N: last tile only
    online_softmax_tile(s, row_max, row_sum, acc_o, scale_log2);
    accumulate_pv<T>(acc_o, s, sV + stage * Cfg::kSmemKV, PD, lane);  // over the full D
  }

  // Epilogue: O / l staged in this warp's own rows of the K stages (nobody reads sK after the last K~
  // build, and no copy is in flight), then 16-byte stores of the rows inside this tile's l-block.
  T* go = static_cast<T*>(p.out) + int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride;
  store_output_rows<T, MT, D>(acc_o, row_sum, sK, PD, warp_row0, lane, go, p.out_token_stride, row0, row_end);
}

// ---- 3. generic kernel (any dtype, head_dim <= 256, any strides) -------------------------------------

constexpr int kGenericWarps = 4;

template <typename T>
__global__ void __launch_bounds__(kGenericWarps * 32)
    distr_generic_kernel(const AttentionDeviceParams p, const T* __restrict__ q_fused,
                         const uint8_t* __restrict__ perm, const int block_len, const int nblocks, const int group,
                         const int fused, const int fused_pad, const int bh_offset) {
  __shared__ float sq[kGenericWarps][kMaxHeadDim];  // this warp's Q~ row
  __shared__ int scol[kGenericWarps][kMaxHeadDim];  // the block's permutation
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int n = blockIdx.x * kGenericWarps + warp;
  const int bh = bh_offset + blockIdx.y;
  const int N = p.tokens, D = p.head_dim;
  if (n >= N) return;
  const int b = bh / p.heads, h = bh % p.heads;
  const int blk = n / block_len;
  const int64_t head_off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  const T* k = static_cast<const T*>(p.k) + head_off;
  const T* v = static_cast<const T*>(p.v) + head_off;
  const T* qf = q_fused + (int64_t(bh) * N + n) * fused_pad;
  const uint8_t* pm = perm + (int64_t(bh) * nblocks + blk) * D;
  for (int j = lane; j < fused; j += 32) sq[warp][j] = to_float(qf[j]);
  for (int c = lane; c < D; c += 32) scol[warp][c] = pm[c];
  __syncwarp();

  constexpr int kPerLane = kMaxHeadDim / 32;
  float acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int t0 = 0; t0 < N; t0 += 32) {
    const int t = t0 + lane;
    float score = -INFINITY;
    if (t < N) {
      const T* kt = k + int64_t(t) * p.qkv_token_stride;
      float dot = 0.0f;
      for (int j = 0; j < fused; ++j) {
        float ks = 0.0f;
        for (int g = 0; g < group; ++g) ks += to_float(kt[scol[warp][j * group + g]]);
        dot += sq[warp][j] * ks;
      }
      score = dot * p.scale;
    }
    float cmax = score;
    for (int o = 16; o > 0; o >>= 1) cmax = fmaxf(cmax, __shfl_xor_sync(0xffffffffu, cmax, o));
    const float m_new = fmaxf(m, cmax);  // finite: the chunk holds key t0 < N
    const float corr = expf(m - m_new);
    const float pt = t < N ? expf(score - m_new) : 0.0f;
    l = l * corr + warp_sum(pt);
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) acc[i] *= corr;
    const int count = min(32, N - t0);
    for (int u = 0; u < count; ++u) {
      const float pu = __shfl_sync(0xffffffffu, pt, u);
      const T* vt = v + int64_t(t0 + u) * p.qkv_token_stride;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int c = lane + 32 * i;
        if (c < D) acc[i] += pu * to_float(vt[c]);
      }
    }
    m = m_new;
  }
  T* out = static_cast<T*>(p.out) + int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride +
           int64_t(n) * p.out_token_stride;
  const float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int c = lane + 32 * i;
    if (c < D) out[c] = from_float<T>(acc[i] * inv);
  }
}

// ---- host side -----------------------------------------------------------------------------------------

// Grow-only workspaces (perm, Q~ and K~; the hash partials and codes of long blocks), one per (device, stream,
// slot): calls on one stream are ordered, so reuse is safe; growing frees the old buffer (cudaFree synchronises
// the device). Growing while the stream is being captured into a graph is an error: run the same shapes once
// eagerly first (the engine's warm-up does).
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
};

// slot: kMainWorkspace (perm, Q~, K~) or kCodesWorkspace (hash partials and codes of long blocks).
enum { kMainWorkspace = 0, kCodesWorkspace = 1 };
void* workspace(size_t bytes, cudaStream_t stream, int slot = kMainWorkspace) {
  static std::mutex mutex;
  static std::map<std::tuple<int, cudaStream_t, int>, Workspace> spaces;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  Workspace& ws = spaces[{device, stream, slot}];
  if (ws.bytes >= bytes) return ws.ptr;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  if (capture != cudaStreamCaptureStatusNone)
    fail("attention_distr", "workspace of {} bytes needed during graph capture (have {}): run once eagerly first",
         bytes, ws.bytes);
  if (ws.ptr) CUDA_CHECK(cudaFree(ws.ptr));
  ws.ptr = nullptr;
  ws.bytes = 0;
  CUDA_CHECK(cudaMalloc(&ws.ptr, bytes));
  ws.bytes = bytes;
  return ws.ptr;
}

// The checks of validate_distr (engine library, not linked into the kernels library) plus the kernels' limits.
void check_distr(const AttentionDeviceParams& p, const DistrParams& distr) {
  check_attention_params(p, "attention_distr");
  if (distr.block < 1) fail("attention_distr", "block size l must be >= 1, got {}", distr.block);
  if (distr.group < 1) fail("attention_distr", "group size G must be >= 1, got {}", distr.group);
  if (distr.hash_bits < 1 || distr.hash_bits > kMaxHashBits)
    fail("attention_distr", "hash bits P must be in 1..{}, got {}", kMaxHashBits, distr.hash_bits);
  if (p.head_dim % distr.group != 0)
    fail("attention_distr", "head dim {} is not divisible by group size G={}", p.head_dim, distr.group);
  if (p.head_dim > kMaxHeadDim) fail("attention_distr", "head_dim {} > {}", p.head_dim, kMaxHeadDim);
  if (distr.hash == DistrHash::Int8 && effective_block(p, distr) >= kMaxInt8BlockRows)
    fail("attention_distr", "hash=i8 needs l < {} rows (int32 dots), got {}", kMaxInt8BlockRows,
         effective_block(p, distr));
}

template <typename T, int kItems>
void launch_group_kernel(const dim3 grid, const int threads, const size_t smem, cudaStream_t stream,
                         const AttentionDeviceParams& p, const GroupShape& s, const float* projection,
                         uint8_t* perm, T* q_fused, const int bh_offset) {
  allow_dynamic_smem<distr_group_kernel<T, kItems>>(kGroupMaxSmem);
  distr_group_kernel<T, kItems><<<grid, threads, smem, stream>>>(p, s, projection, perm, q_fused, bh_offset);
  CUDA_CHECK_LAUNCH();
}

// The codes workspace: codes [B*H][nblocks][D], which become s.codes_in (with s.row_splits) for distr_group_kernel,
// then `scratch_bytes` for the kernels that compute them.
struct CodesWorkspace {
  uint32_t* codes;
  char* scratch;
};
CodesWorkspace use_codes_workspace(const AttentionDeviceParams& p, GroupShape& s, size_t scratch_bytes,
                                   cudaStream_t stream) {
  const size_t codes_bytes = align_up(size_t(p.batch) * p.heads * s.nblocks * p.head_dim * sizeof(uint32_t), 256);
  char* ws = static_cast<char*>(workspace(codes_bytes + scratch_bytes, stream, kCodesWorkspace));
  const CodesWorkspace out{reinterpret_cast<uint32_t*>(ws), ws + codes_bytes};
  s.codes_in = out.codes;
  s.row_splits = (s.block_len + kGroupRowsPerSplit - 1) / kGroupRowsPerSplit;
  return out;
}

// Blocks of more than kHashChunkRows rows: their codes (use_codes_workspace). threads, wide: as for
// distr_group_kernel.
template <typename T>
void launch_hash(const AttentionDeviceParams& p, GroupShape& s, const float* projection, cudaStream_t stream,
                 int bh_total, int threads, bool wide) {
  const int D = p.head_dim, P = s.hash_bits;
  const int chunks = (s.block_len + kHashChunkRows - 1) / kHashChunkRows;
  const size_t partial_bytes = size_t(bh_total) * s.nblocks * chunks * D * P * sizeof(float);
  const CodesWorkspace ws = use_codes_workspace(p, s, partial_bytes, stream);
  uint32_t* codes = ws.codes;
  float* partials = reinterpret_cast<float*>(ws.scratch);  // [B*H][nblocks][chunks][D][P]
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    const dim3 grid(s.nblocks * chunks, heads);
    const auto launch = [&](auto items) {
      constexpr auto kernel = distr_hash_partials_kernel<T, decltype(items)::value>;
      allow_dynamic_smem<kernel>(kGroupStages * kGroupChunkBytes);
      kernel<<<grid, threads, s.slots_bytes, stream>>>(p, s, projection, partials, chunks, bh0);
      CUDA_CHECK_LAUNCH();
    };
    if (wide) launch(std::integral_constant<int, 4>());
    else launch(std::integral_constant<int, 1>());
  });
  const int64_t columns = int64_t(bh_total) * s.nblocks * D;
  const int64_t blocks = (columns * 32 + kHashThreads - 1) / kHashThreads;
  distr_hash_codes_kernel<<<unsigned(blocks), kHashThreads, 0, stream>>>(partials, codes, D, P, s.nblocks, chunks,
                                                                         s.block_len, p.tokens, columns);
  CUDA_CHECK_LAUNCH();
}

// fused_pad: the pitch of the Q~ rows (0: fused_width). expanded: q_fused gets Q' rows of D columns instead.
template <typename T>
void launch_group(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint8_t* perm,
                  T* q_fused, cudaStream_t stream, int fused_pad = 0, bool expanded = false) {
  const int D = p.head_dim, P = distr.hash_bits;
  GroupShape s;
  s.block_len = effective_block(p, distr);
  s.nblocks = num_blocks(p.tokens, distr.block);
  s.hash_bits = P;
  s.group = distr.group;
  s.expanded = expanded;
  s.fused = expanded ? D : D / distr.group;
  s.fused_pad = expanded ? D : fused_pad > 0 ? fused_pad : fused_width(D, distr.group);
  s.sample = distr.variant == DistrVariant::Sample;
  const int slices = (P + kBitsPerItem - 1) / kBitsPerItem;
  s.items = (D + kColsPerItem - 1) / kColsPerItem * slices;
  s.q_bytes = int(align_up(size_t(D) * sizeof(T), 16));
  // Record pitch an odd multiple of 16 bytes: 8 consecutive rows start in 8 different bank quads (Q~ gathers).
  s.record_bytes = s.q_bytes + slices * kBitsPerItem * int(sizeof(float));
  if (s.record_bytes / 16 % 2 == 0) s.record_bytes += 16;
  s.chunk_rows = std::clamp(kGroupChunkBytes / s.record_bytes, 8, kGroupMaxChunk);
  const int chunks = (s.block_len + s.chunk_rows - 1) / s.chunk_rows;
  s.slots_bytes = std::min(kGroupStages, chunks) * s.chunk_rows * s.record_bytes;
  const auto mult16 = [](int64_t elems) { return elems * int64_t(sizeof(T)) % 16 == 0; };
  s.vec_q = aligned_to(p.q, 16) && mult16(p.qkv_batch_stride) && mult16(p.qkv_head_stride) &&
            mult16(p.qkv_token_stride) && mult16(D);
  s.vec_r = P % 4 == 0 && aligned_to(projection, 16);
  s.vec_out = aligned_to(q_fused, 16);
  s.q_pieces = s.vec_q ? D * int(sizeof(T)) / 16 : 1;
  s.r_pieces = slices * kBitsPerItem / 4;
  s.fuse_slots = s.fused_pad / fuse_columns<T>(s.group);

  const bool wide = s.items > kGroupMaxThreads;  // more than one item per thread
  const int per_thread = wide ? 4 : 1;
  const int threads =
      int(align_up(size_t(std::max({(s.items + per_thread - 1) / per_thread, s.q_pieces, s.fuse_slots})), 32));
  const size_t smem = size_t(s.slots_bytes) + size_t(align_up(D, 4)) * kGroupSortBytesPerColumn;
  const int bh_total = p.batch * p.heads;
  if (distr.hash == DistrHash::Int8) {
    const CodesWorkspace ws = use_codes_workspace(p, s, int8_codes_scratch_bytes(p, distr), stream);
    int8_codes(p, distr, projection, ws.codes, ws.scratch, stream);
  } else if (s.block_len > kHashChunkRows) {
    launch_hash<T>(p, s, projection, stream, bh_total, threads, wide);
  }
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    const dim3 grid(s.nblocks * s.row_splits, heads);
    if (wide) launch_group_kernel<T, 4>(grid, threads, smem, stream, p, s, projection, perm, q_fused, bh0);
    else launch_group_kernel<T, 1>(grid, threads, smem, stream, p, s, projection, perm, q_fused, bh0);
  });
}

template <typename T, typename Cfg>
const void* fwd_kernel_ptr() {
  allow_dynamic_smem<distr_fwd_kernel<T, Cfg>>(Cfg::kSmemBytes);
  return reinterpret_cast<const void*>(distr_fwd_kernel<T, Cfg>);
}

template <typename T, typename Cfg>
void launch_fwd(const AttentionDeviceParams& p, const DistrParams& distr, const uint8_t* perm, const T* q_fused,
                cudaStream_t stream) {
  fwd_kernel_ptr<T, Cfg>();
  const int l = effective_block(p, distr), nblocks = num_blocks(p.tokens, distr.block);
  const int tiles_per_block = (l + Cfg::BM - 1) / Cfg::BM;
  const float scale_log2 = p.scale * 1.4426950408889634f;
  for_each_head_chunk(p.batch * p.heads, [&](int bh0, int heads) {
    distr_fwd_kernel<T, Cfg><<<dim3(nblocks * tiles_per_block, heads), Cfg::kThreads, Cfg::kSmemBytes, stream>>>(
        p, q_fused, perm, l, nblocks, tiles_per_block, scale_log2, bh0);
    CUDA_CHECK_LAUNCH();
  });
}

// Tile configurations: index 0 = 64-row Q tiles, 1 = 128-row Q tiles.
template <int D, int G>
struct Configs;
template <int G>
struct Configs<64, G> {
  using Small = Config<64, G, 4, 1, 64>;  // 4 warps x 16 rows
  using Large = Config<64, G, 4, 2, 64>;  // 4 warps x 32 rows
};
template <int G>
struct Configs<128, G> {
  using Small = Config<128, G, 4, 1, 64>;  // 4 warps x 16 rows
  using Large = Config<128, G, 8, 1, 64>;  // 8 warps x 16 rows
};

// Useful rows per launched row (tiles never straddle l-blocks) times the busy fraction of the last wave.
template <typename T, typename Cfg>
double expected_speed(const AttentionDeviceParams& p, const DistrParams& distr, double speed) {
  static const int slots = [] {
    fwd_kernel_ptr<T, Cfg>();
    int device = 0, sms = 0, per_sm = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, distr_fwd_kernel<T, Cfg>, Cfg::kThreads,
                                                             Cfg::kSmemBytes));
    return std::max(1, sms * per_sm);
  }();
  const int l = effective_block(p, distr), nblocks = num_blocks(p.tokens, distr.block);
  const int tiles_per_block = (l + Cfg::BM - 1) / Cfg::BM;
  const double blocks = double(nblocks) * tiles_per_block * p.batch * p.heads;
  const double waves = blocks / slots;
  const double useful = double(p.tokens) / (double(nblocks) * tiles_per_block * Cfg::BM);
  return speed * useful * waves / std::ceil(waves);
}

template <typename T, int D, int G>
void run_fused_dg(const AttentionDeviceParams& p, const DistrParams& distr, Path path, const uint8_t* perm,
                  const T* q_fused, cudaStream_t stream) {
  using Small = typename Configs<D, G>::Small;
  using Large = typename Configs<D, G>::Large;
  if (path == Path::kAuto)
    path = expected_speed<T, Small>(p, distr, 0.9) > expected_speed<T, Large>(p, distr, 1.0) ? Path::kFused64
                                                                                             : Path::kFused128;
  if (path == Path::kFused64) launch_fwd<T, Small>(p, distr, perm, q_fused, stream);
  else launch_fwd<T, Large>(p, distr, perm, q_fused, stream);
}

template <typename T, int D>
void run_fused_d(const AttentionDeviceParams& p, const DistrParams& distr, Path path, const uint8_t* perm,
                 const T* q_fused, cudaStream_t stream) {
  switch (distr.group) {
    case 1: return run_fused_dg<T, D, 1>(p, distr, path, perm, q_fused, stream);
    case 2: return run_fused_dg<T, D, 2>(p, distr, path, perm, q_fused, stream);
    case 4: return run_fused_dg<T, D, 4>(p, distr, path, perm, q_fused, stream);
    case 8: return run_fused_dg<T, D, 8>(p, distr, path, perm, q_fused, stream);
  }
  fail("attention_distr", "fused kernel needs G in {{1, 2, 4, 8}}, got {}", distr.group);
}

bool is_hopper(Path path) { return path == Path::kHopper || path == Path::kHopper0 || path == Path::kHopper1; }

// Prefused: at most this many l-blocks (the K~ write is nblocks times the size of K); kAuto takes it from this many
// tokens on (below, the K~ pass costs more than the in-loop build: BENCHMARKS.md "Prefused").
constexpr int kPrefusedMaxBlocks = 2;
constexpr int kPrefusedAutoMinTokens = 2048;

bool fused_fits(const AttentionDeviceParams& p, const DistrParams& distr) {
  const int g = distr.group;
  return p.dtype != DataType::F32 && (p.head_dim == 64 || p.head_dim == 128) &&
         (g == 1 || g == 2 || g == 4 || g == 8) && attention_rows_16b_aligned(p);
}

// The Hopper kernel's variant per head_dim (measured: BENCHMARKS.md "### DistrAttention on wgmma").
constexpr int kHopperVariantD64 = 1, kHopperVariantD128 = 0;

template <typename T, int D>
void run_hopper_d(const AttentionDeviceParams& p, const DistrParams& distr, Path path, const uint8_t* perm,
                  const T* q_fused, cudaStream_t stream) {
  const int l = effective_block(p, distr), nblocks = num_blocks(p.tokens, distr.block);
  const int variant = path == Path::kHopper0 ? 0 : path == Path::kHopper1 ? 1
                                                 : (D == 64 ? kHopperVariantD64 : kHopperVariantD128);
  switch (distr.group) {
    case 2: return hopper::run_distr_attention<T, D, 2>(p, perm, q_fused, l, nblocks, variant, stream);
    case 4: return hopper::run_distr_attention<T, D, 4>(p, perm, q_fused, l, nblocks, variant, stream);
    case 8: return hopper::run_distr_attention<T, D, 8>(p, perm, q_fused, l, nblocks, variant, stream);
  }
  fail("attention_distr", "Hopper kernel needs G in {{2, 4, 8}}, got {}", distr.group);
}

template <typename T, int D>
void run_prefused_d(const AttentionDeviceParams& p, const DistrParams& distr, const void* q_fused,
                    const void* k_fused, cudaStream_t stream) {
  const int l = effective_block(p, distr), nblocks = num_blocks(p.tokens, distr.block);
  bool launched = false;
  switch (distr.group) {
    case 2: launched = hopper::run_distr_prefused<T, D, 2>(p, q_fused, k_fused, l, nblocks, stream); break;
    case 4: launched = hopper::run_distr_prefused<T, D, 4>(p, q_fused, k_fused, l, nblocks, stream); break;
    case 8: launched = hopper::run_distr_prefused<T, D, 8>(p, q_fused, k_fused, l, nblocks, stream); break;
  }
  if (!launched) fail("attention_distr", "prefused path: the v view can't be tensor-mapped");
}

// Workspace: perm, Q~ (rows of kFusedPitch), K~ of every block; then the three steps.
template <typename T>
void run_prefused(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                  cudaStream_t stream) {
  const int nblocks = num_blocks(p.tokens, distr.block), bh_total = p.batch * p.heads;
  const size_t perm_bytes = align_up(size_t(bh_total) * nblocks * p.head_dim, 256);
  const size_t qf_bytes = align_up(size_t(bh_total) * p.tokens * kFusedPitch * sizeof(T), 256);
  char* ws = static_cast<char*>(workspace(perm_bytes + qf_bytes + fused_k_bytes(p, distr), stream));
  uint8_t* perm = reinterpret_cast<uint8_t*>(ws);
  T* q_fused = reinterpret_cast<T*>(ws + perm_bytes);
  void* k_fused = ws + perm_bytes + qf_bytes;
  launch_group<T>(p, distr, projection, perm, q_fused, stream, kFusedPitch);
  fuse_k_blocks(p, distr, perm, k_fused, stream);
  if (p.head_dim == 64) return run_prefused_d<T, 64>(p, distr, q_fused, k_fused, stream);
  return run_prefused_d<T, 128>(p, distr, q_fused, k_fused, stream);
}

// Workspace: perm, Q' [B*H][N][D]; then the prologue and the exact kernel on Q'.
template <typename T>
void run_expanded(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                  cudaStream_t stream) {
  const int nblocks = num_blocks(p.tokens, distr.block), bh_total = p.batch * p.heads;
  const size_t perm_bytes = align_up(size_t(bh_total) * nblocks * p.head_dim, 256);
  const size_t q_bytes = size_t(bh_total) * p.tokens * p.head_dim * sizeof(T);
  char* ws = static_cast<char*>(workspace(perm_bytes + q_bytes, stream));
  uint8_t* perm = reinterpret_cast<uint8_t*>(ws);
  T* q_expanded = reinterpret_cast<T*>(ws + perm_bytes);
  expand_blocks(p, distr, projection, perm, q_expanded, ExpandKernel{}, stream);
  const bool launched = p.head_dim == 64 ? hopper::run_distr_expanded<T, 64>(p, q_expanded, stream)
                                         : hopper::run_distr_expanded<T, 128>(p, q_expanded, stream);
  if (!launched) fail("attention_distr", "expanded path: the k / v views can't be tensor-mapped");
}

template <typename T>
void run_typed(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, Path path,
               cudaStream_t stream) {
  if constexpr (!std::is_same_v<T, float>) {
    if (path == Path::kPrefused) return run_prefused<T>(p, distr, projection, stream);
    if (path == Path::kExpanded) return run_expanded<T>(p, distr, projection, stream);
  }
  const int nblocks = num_blocks(p.tokens, distr.block);
  const int fused_pad = fused_width(p.head_dim, distr.group);
  const int bh_total = p.batch * p.heads;
  const size_t perm_bytes = align_up(size_t(bh_total) * nblocks * p.head_dim, 256);
  const size_t qf_bytes = size_t(bh_total) * p.tokens * fused_pad * sizeof(T);
  char* ws = static_cast<char*>(workspace(perm_bytes + qf_bytes, stream));
  uint8_t* perm = reinterpret_cast<uint8_t*>(ws);
  T* q_fused = reinterpret_cast<T*>(ws + perm_bytes);
  launch_group<T>(p, distr, projection, perm, q_fused, stream);
  if (path == Path::kGeneric) {
    const int fused = p.head_dim / distr.group;
    for_each_head_chunk(bh_total, [&](int bh0, int heads) {
      const dim3 grid((p.tokens + kGenericWarps - 1) / kGenericWarps, heads);
      distr_generic_kernel<T><<<grid, kGenericWarps * 32, 0, stream>>>(
          p, q_fused, perm, effective_block(p, distr), nblocks, distr.group, fused, fused_pad, bh0);
      CUDA_CHECK_LAUNCH();
    });
    return;
  }
  if constexpr (!std::is_same_v<T, float>) {
    if (is_hopper(path)) {
      if (p.head_dim == 64) return run_hopper_d<T, 64>(p, distr, path, perm, q_fused, stream);
      return run_hopper_d<T, 128>(p, distr, path, perm, q_fused, stream);
    }
    if (p.head_dim == 64) return run_fused_d<T, 64>(p, distr, path, perm, q_fused, stream);
    return run_fused_d<T, 128>(p, distr, path, perm, q_fused, stream);
  }
}

}  // namespace

int fused_width(int head_dim, int group) {
  const int e = head_dim / group;
  return std::max(16, (e + 15) / 16 * 16);
}

int num_blocks(int tokens, int block) {
  const int l = std::min(block, std::max(1, tokens));
  return (tokens + l - 1) / l;
}

int effective_block(const AttentionDeviceParams& p, const DistrParams& distr) {
  return std::min(distr.block, std::max(1, p.tokens));
}

const char* path_name(Path path) {
  switch (path) {
    case Path::kAuto: return "auto";
    case Path::kFused64: return "fused64";
    case Path::kFused128: return "fused128";
    case Path::kGeneric: return "generic";
    case Path::kHopper: return "hopper";
    case Path::kHopper0: return "hopper0";
    case Path::kHopper1: return "hopper1";
    case Path::kPrefused: return "prefused";
    case Path::kExpanded: return "expanded";
  }
  return "?";
}

bool hopper_fits(const AttentionDeviceParams& p, const DistrParams& distr) {
  const int g = distr.group;
  const int l = effective_block(p, distr);
  return hopper::available() && fused_fits(p, distr) && (g == 2 || g == 4 || g == 8) &&
         (l % 64 == 0 || num_blocks(p.tokens, distr.block) == 1);
}

bool expanded_fits(const AttentionDeviceParams& p, const DistrParams& distr) {
  const int g = distr.group;
  return hopper::available() && fused_fits(p, distr) && (g == 2 || g == 4 || g == 8);
}

bool prefused_fits(const AttentionDeviceParams& p, const DistrParams& distr) {
  const int l = effective_block(p, distr), nblocks = num_blocks(p.tokens, distr.block);
  return hopper_fits(p, distr) && nblocks <= kPrefusedMaxBlocks && (nblocks == 1 || l % 128 == 0) &&
         p.head_dim / distr.group <= kFusedPitch;
}

Path auto_path(const AttentionDeviceParams& p, const DistrParams& distr) {
  if (distr.group == 1) return Path::kAuto;  // attention_exact
  // d = 128, long rows: the products set the time and a K~ per l-block halves Q K^T. Elsewhere K~ costs more than
  // it saves (at d = 64 the softmax sets the time): the exact kernel on Q' (BENCHMARKS.md).
  if (p.head_dim == 128 && p.tokens >= kPrefusedAutoMinTokens && prefused_fits(p, distr)) return Path::kPrefused;
  if (expanded_fits(p, distr)) return Path::kExpanded;
  if (hopper_fits(p, distr)) return Path::kHopper;
  return fused_fits(p, distr) ? Path::kAuto : Path::kGeneric;
}

void group_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint8_t* perm,
                  void* q_fused, cudaStream_t stream) {
  check_distr(p, distr);
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  switch (p.dtype) {
    case DataType::F16: return launch_group<__half>(p, distr, projection, perm, static_cast<__half*>(q_fused), stream);
    case DataType::BF16:
      return launch_group<__nv_bfloat16>(p, distr, projection, perm, static_cast<__nv_bfloat16*>(q_fused), stream);
    case DataType::F32: return launch_group<float>(p, distr, projection, perm, static_cast<float*>(q_fused), stream);
  }
}

void expand_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint8_t* perm,
                   void* q_expanded, ExpandKernel kernel, cudaStream_t stream) {
  check_distr(p, distr);
  const int g = distr.group;
  if (g != 1 && g != 2 && g != 4 && g != 8) fail("attention_distr", "expanded Q' needs G in {{1, 2, 4, 8}}, got {}", g);
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  if (kernel.allow_short && expand_short_blocks(p, distr, projection, perm, q_expanded, kernel.short_max_grid, stream))
    return;
  switch (p.dtype) {
    case DataType::F16:
      return launch_group<__half>(p, distr, projection, perm, static_cast<__half*>(q_expanded), stream, 0, true);
    case DataType::BF16:
      return launch_group<__nv_bfloat16>(p, distr, projection, perm, static_cast<__nv_bfloat16*>(q_expanded), stream,
                                         0, true);
    case DataType::F32:
      return launch_group<float>(p, distr, projection, perm, static_cast<float*>(q_expanded), stream, 0, true);
  }
}

void run(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, Path path,
         cudaStream_t stream) {
  check_distr(p, distr);
  if (!projection) fail("attention_distr", "null projection");
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  if (path == Path::kAuto) {
    if (distr.group == 1) return attention_exact(p, stream);
    path = auto_path(p, distr);  // kAuto here: the mma.sync kernel with its tile size picked per problem
  } else if (path == Path::kPrefused && !prefused_fits(p, distr)) {
    fail("attention_distr", "prefused path needs what the hopper path needs, at most {} l-blocks, l a multiple of "
                            "128 (or l >= N) and head_dim / G <= {}", kPrefusedMaxBlocks, kFusedPitch);
  } else if (path == Path::kExpanded && !expanded_fits(p, distr)) {
    fail("attention_distr", "expanded path needs an sm_90a build on compute capability 9.0, fp16/bf16, head_dim "
                            "64/128, G in {{2,4,8}} and 16-byte rows");
  } else if (is_hopper(path) && !hopper_fits(p, distr)) {
    fail("attention_distr", "hopper path needs an sm_90a build on compute capability 9.0, fp16/bf16, head_dim "
                            "64/128, G in {{2,4,8}}, 16-byte rows and l a multiple of 64 (or l >= N)");
  } else if (path != Path::kGeneric && !fused_fits(p, distr)) {
    fail("attention_distr", "{} path needs fp16/bf16, head_dim 64/128, G in {{1,2,4,8}} and 16-byte rows",
         path_name(path));
  }
  switch (p.dtype) {
    case DataType::F16: return run_typed<__half>(p, distr, projection, path, stream);
    case DataType::BF16: return run_typed<__nv_bfloat16>(p, distr, projection, path, stream);
    case DataType::F32: return run_typed<float>(p, distr, projection, path, stream);
  }
}

}  // namespace distr

void attention_distr(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                     cudaStream_t stream) {
  distr::run(p, distr, projection, distr::Path::kAuto, stream);
}

}  // namespace distrvit::cuda
