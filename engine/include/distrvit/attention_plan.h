// Parsing and saving which attention each (layer, head) runs: the --attention option and plan files.
//
// --attention grammar (keys are case-sensitive, options in any order, each at most once):
//   exact | cudnn | naive
//   distr[:l=64][:G=2][:mean|:sample|:variant=mean|sample][:P=16][:seed=S][:layers=LIST][:heads=LIST]
//   lowrank:r=R[:layers=LIST][:heads=LIST]
//   plan:FILE                                   (a JSON plan file, format below)
// LIST = comma-separated indices and inclusive ranges, e.g. "6-11,2"; "all" = every index.
// With layers= and/or heads=, the selected (layer, head) pairs run the given attention and all the
// others run exact; without them, every (layer, head) runs it.
//
// Plan file (JSON, written by save_plan, read by "plan:FILE"):
//   {
//     "format": "distrvit-attention-plan",      (optional when reading; must match if present)
//     "version": 1,                             (optional when reading; must be 1 if present)
//     "model": "vit_tiny_patch16_224...",       (optional, informative only)
//     "depth": 12, "heads": 3,                  (optional; must match the model if present)
//     "default": "exact",                       (optional, default "exact"; a single spec)
//     "entries": [                              (optional)
//       {"layer": 3, "head": 1, "attention": "distr:l=64:G=2"},
//       {"layer": 5, "attention": "distr:l=16:G=2"}  (no "head": every head of the layer)
//     ],
//     "notes": ...                              (optional, any JSON, ignored)
//   }
// Entries apply in order (a later one overrides an earlier one for the same (layer, head); the same
// (layer, head)/(layer, all) pair twice is an error). A single spec is any of the grammar above except
// plan:, layers= and heads=. Any other key is an error, so typos do not silently run exact.
#pragma once
#include <string>

#include "distrvit/attention.h"
#include "distrvit/engine.h"

namespace distrvit {

// Same attention: same kind and, for that kind, the same parameters (Distr: l, G, variant, P, seed;
// LowRank: r). Parameters of other kinds are ignored.
bool same_attention(const AttentionSpec& a, const AttentionSpec& b);

// One spec without selection ("exact", "distr:l=16:G=2", "lowrank:r=32"). Throws Error with subject
// `subject` ("--attention" by default) naming the problem and the text.
AttentionSpec parse_attention_spec(const std::string& text, const std::string& subject = "--attention");

// The full --attention grammar. depth and heads are the model's; they size per_layer_head and bound
// layers=/heads=/plan entries. Throws Error ("--attention: unknown key 'x' in 'distr:x=1'", ...).
AttentionPlan parse_attention(const std::string& text, int depth, int heads);

// A plan that runs `spec` everywhere, named describe(spec).
AttentionPlan uniform_plan(const AttentionSpec& spec);

// Writes `plan` as a plan file (format above) atomically: a temporary file in the same folder, then
// rename. Entries are written per layer when all its heads agree, else per head. Throws Error naming
// the path on failure or when the plan's per_layer_head is not [depth][heads].
void save_plan(const std::string& path, const AttentionPlan& plan, int depth, int heads,
               const std::string& model = "");

}  // namespace distrvit
