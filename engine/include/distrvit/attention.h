// Attention configuration chosen at run time, and the CPU reference implementations.
//
// Every attention in the engine reads q, k, v straight out of the fused qkv activation
// [B, N, 3, H, D] through strides and writes [B, N, H, D] (= [B, N, E]) for the output projection.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace distrvit {

enum class AttentionKind {
  Exact,    // our fused kernel (GPU) / the plain reference (CPU)
  Cudnn,    // cuDNN fused SDPA (GPU only)
  Naive,    // unfused: S = QK^T, softmax, PV (debugging)
  Distr,    // DistrAttention (LSH column grouping of Q, fused K)
  LowRank,  // calibrated low-rank q/k projection (folded at load; runs the exact kernel)
};

enum class DistrVariant { Mean, Sample };
// How the SimHash dots are computed (distrvit/distr.h): Fma, fp32 fused multiply-adds in ascending rows (the paper's
// SimHash); Int8, exact integer dots of per-column int8-quantized Q and an int8-quantized R (tensor cores on the GPU).
enum class DistrHash { Fma, Int8 };

struct DistrParams {
  int block = 64;       // l: consecutive query rows sharing one grouping
  int group = 2;        // G: columns fused per group; E = D / G
  DistrVariant variant = DistrVariant::Mean;
  int hash_bits = 16;   // P
  uint64_t seed = 0;    // seeds the Gaussian projection R [l, P]
  DistrHash hash = DistrHash::Fma;
};

// Calibrated low-rank q/k projections (see docs): for each (layer, head) an orthonormal U [D, rank];
// scores become scale * (q U)(k U)^T, the top-rank eigenvectors of sum(q q^T + k k^T) over calibration tokens.
struct LowRankProjections {
  int depth = 0, heads = 0, head_dim = 0, rank = 0;
  std::vector<float> u;  // [depth, heads, head_dim, rank]
  const float* at(int layer, int head) const { return u.data() + (int64_t(layer) * heads + head) * head_dim * rank; }
};

struct AttentionSpec {
  AttentionKind kind = AttentionKind::Exact;
  DistrParams distr;
  int rank = 0;  // LowRank: q/k dimension per head after projection
};

// Strided view of one attention call: element (b, n, h, d) of X lives at
// X[b * batch_stride + n * token_stride + h * head_stride + d].
struct AttentionParams {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  int batch = 1, heads = 1, tokens = 1, head_dim = 64;
  int64_t qkv_batch_stride = 0, qkv_token_stride = 0, qkv_head_stride = 0;  // same for q, k, v
  int64_t out_batch_stride = 0, out_token_stride = 0, out_head_stride = 0;
  float scale = 0.125f;

  // Strides for the fused qkv activation [B, N, 3, H, D] and output [B, N, H, D].
  static AttentionParams from_qkv(const float* qkv, float* out, int batch, int tokens, int heads, int head_dim);
};

std::string attention_kind_name(AttentionKind kind);
std::string describe(const AttentionSpec& spec);  // "exact", "distr:l=64:G=2:mean", ...

// CPU references (plain loops, fp32 math, double-free of cleverness: they define what is right).
void attention_exact_cpu(const AttentionParams& p);
// Their one query row: scores [N] = scale * (q_row . key row j) over key_dim values, softmax, out_row [D] = scores V;
// key row j at keys + j * key_stride, value row j at v + j * v_stride.
void attend_row_cpu(const float* q_row, const float* keys, int64_t key_stride, int key_dim, const float* v,
                    int64_t v_stride, int tokens, int head_dim, float scale, float* scores, float* out_row);
void attention_distr_cpu(const AttentionParams& p, const DistrParams& distr);
// DistrAttention for the CPU engine: the reference's Q~ and K~, its two products per block through OpenBLAS.
void attention_distr_blas_cpu(const AttentionParams& p, const DistrParams& distr);

// Low-rank attention for one head (p.heads == 1): u [D, rank]; cls_probs [B, N] or null.
void attention_lowrank_cpu(const AttentionParams& p, const float* u, int rank, float* cls_probs = nullptr);

// Attention probabilities of query row 0 (the class token) under `spec`: probs [B, H, N].
void attention_cls_probs_cpu(const AttentionParams& p, const AttentionSpec& spec, float* probs);

}  // namespace distrvit
