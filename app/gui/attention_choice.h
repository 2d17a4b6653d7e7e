// The attention controls' state, turned into the --attention text the engine parses.
#pragma once
#include <cstdint>
#include <string>

namespace distrvit::gui {

enum class Backend { Exact, Cudnn, Naive, Distr, LowRank, Plan, Text };
inline constexpr const char* kBackendNames[] = {"exact", "cudnn", "naive", "distr", "lowrank", "plan file", "as typed"};

struct AttentionChoice {
  Backend backend = Backend::Exact;
  int block = 64;        // l
  int group = 2;         // G
  bool sample = false;   // variant: sample instead of mean
  int hash_bits = 16;    // P
  bool int8_hash = false;  // hash=i8: SimHash of int8-quantized columns (distr.h)
  uint64_t seed = 0;
  int rank = 32;         // lowrank r
  std::string selection; // ":layers=..:heads=.." kept from a typed text
  std::string plan_file;
  std::string typed;     // Backend::Text: the text as given

  std::string text() const;  // "distr:l=64:G=2", "lowrank:r=32", "plan:FILE", ...
};

// Best effort: what the controls should show for an --attention text. Texts the controls cannot
// represent come back as Backend::Text and run as typed.
AttentionChoice choice_from_text(const std::string& text);

}  // namespace distrvit::gui
