// Attention specs and plans: describe(), the --attention grammar, plan files (see distrvit/attention_plan.h).
#include "distrvit/attention_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "distrvit/distr.h"
#include "distrvit/error.h"

namespace distrvit {

namespace {

constexpr const char* kPlanFormat = "distrvit-attention-plan";
constexpr int kPlanVersion = 1;
const DistrParams kDefaultDistr{};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

// Parses a whole decimal integer in [low, high]; anything else is an error naming `what`.
int64_t parse_integer(const std::string& value, const std::string& what, int64_t low, int64_t high,
                      const std::string& subject, const std::string& text) {
  bool ok = !value.empty() && value.size() <= 18;
  size_t start = (ok && value[0] == '-') ? 1 : 0;
  ok = ok && start < value.size();
  for (size_t i = start; ok && i < value.size(); ++i) ok = value[i] >= '0' && value[i] <= '9';
  const int64_t number = ok ? std::stoll(value) : 0;
  if (!ok || number < low || number > high)
    fail(subject, "{} must be an integer in {}..{}, got '{}' in '{}'", what, low, high, value, text);
  return number;
}

uint64_t parse_seed(const std::string& value, const std::string& subject, const std::string& text) {
  bool ok = !value.empty() && value.size() <= 20;
  for (size_t i = 0; ok && i < value.size(); ++i) ok = value[i] >= '0' && value[i] <= '9';
  errno = 0;
  const uint64_t seed = ok ? std::strtoull(value.c_str(), nullptr, 10) : 0;
  if (!ok || errno == ERANGE)
    fail(subject, "seed must be an unsigned 64-bit decimal integer, got '{}' in '{}'", value, text);
  return seed;
}

// "6-11,2" or "all" -> sorted indices in [0, count).
std::set<int> parse_index_list(const std::string& value, const std::string& what, int count,
                               const std::string& subject, const std::string& text) {
  if (count <= 0) fail(subject, "{}s= needs the model's {} count, which is unknown, in '{}'", what, what, text);
  std::set<int> indices;
  if (value == "all") {
    for (int i = 0; i < count; ++i) indices.insert(i);
    return indices;
  }
  if (value.empty()) fail(subject, "empty {} list in '{}'", what, text);
  for (const std::string& item : split(value, ',')) {
    if (item.empty()) fail(subject, "empty item in {} list '{}' in '{}'", what, value, text);
    const size_t dash = item.find('-', 1);
    const std::string first = dash == std::string::npos ? item : item.substr(0, dash);
    const std::string last = dash == std::string::npos ? item : item.substr(dash + 1);
    const std::string range = fmt::format("{} index (0..{})", what, count - 1);
    const int from = int(parse_integer(first, range, 0, count - 1, subject, text));
    const int to = int(parse_integer(last, range, 0, count - 1, subject, text));
    if (to < from) fail(subject, "{} range '{}' runs backwards in '{}'", what, item, text);
    for (int i = from; i <= to; ++i) indices.insert(i);
  }
  return indices;
}

struct ParsedSpec {
  AttentionSpec spec;
  std::string layers, heads;  // selection lists as given ("" = not given)
  bool has_layers = false, has_heads = false;
};

ParsedSpec parse_spec_with_selection(const std::string& text, const std::string& subject) {
  ParsedSpec parsed;
  AttentionSpec& spec = parsed.spec;
  const std::vector<std::string> parts = split(text, ':');
  const std::string& kind = parts[0];
  if (kind == "exact" || kind == "cudnn" || kind == "naive") {
    spec.kind = kind == "exact" ? AttentionKind::Exact : kind == "cudnn" ? AttentionKind::Cudnn : AttentionKind::Naive;
    if (parts.size() > 1) fail(subject, "'{}' takes no options, got '{}'", kind, text);
    return parsed;
  }
  if (kind == "distr") {
    spec.kind = AttentionKind::Distr;
  } else if (kind == "lowrank") {
    spec.kind = AttentionKind::LowRank;
  } else if (kind == "plan") {
    fail(subject, "a plan file cannot be used here, got '{}'", text);
  } else {
    fail(subject, "unknown attention '{}' in '{}' (expected exact, cudnn, naive, distr, lowrank or plan:FILE)",
         kind, text);
  }

  std::set<std::string> seen;
  bool has_rank = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) fail(subject, "empty option in '{}'", text);
    const size_t eq = part.find('=');
    std::string key = eq == std::string::npos ? part : part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (spec.kind == AttentionKind::Distr && eq == std::string::npos && (part == "mean" || part == "sample")) {
      value = key;
      key = "variant";
    } else if (eq == std::string::npos) {
      fail(subject, "option '{}' needs a value (key=value) in '{}'", part, text);
    }
    // "mean" counts as the key 'variant', so "distr:mean:variant=sample" is a duplicate too.
    if (!seen.insert(key).second) fail(subject, "duplicate key '{}' in '{}'", key, text);

    if (key == "layers") {
      parsed.has_layers = true;
      parsed.layers = value;
    } else if (key == "heads") {
      parsed.has_heads = true;
      parsed.heads = value;
    } else if (spec.kind == AttentionKind::Distr && key == "l") {
      spec.distr.block = int(parse_integer(value, "l", 1, 1 << 20, subject, text));
    } else if (spec.kind == AttentionKind::Distr && key == "G") {
      spec.distr.group = int(parse_integer(value, "G", 1, 1 << 12, subject, text));
    } else if (spec.kind == AttentionKind::Distr && key == "P") {
      spec.distr.hash_bits = int(parse_integer(value, "P", 1, kMaxHashBits, subject, text));
    } else if (spec.kind == AttentionKind::Distr && key == "seed") {
      spec.distr.seed = parse_seed(value, subject, text);
    } else if (spec.kind == AttentionKind::Distr && key == "variant") {
      if (value == "mean") {
        spec.distr.variant = DistrVariant::Mean;
      } else if (value == "sample") {
        spec.distr.variant = DistrVariant::Sample;
      } else {
        fail(subject, "variant must be mean or sample, got '{}' in '{}'", value, text);
      }
    } else if (spec.kind == AttentionKind::Distr && key == "hash") {
      if (value == "fma") {
        spec.distr.hash = DistrHash::Fma;
      } else if (value == "i8") {
        spec.distr.hash = DistrHash::Int8;
      } else {
        fail(subject, "hash must be fma or i8, got '{}' in '{}'", value, text);
      }
    } else if (spec.kind == AttentionKind::LowRank && key == "r") {
      spec.rank = int(parse_integer(value, "r", 1, 1 << 16, subject, text));
      has_rank = true;
    } else {
      fail(subject, "unknown key '{}' in '{}'", key, text);
    }
  }
  if (spec.kind == AttentionKind::LowRank && !has_rank) fail(subject, "lowrank needs r=RANK in '{}'", text);
  return parsed;
}

AttentionSpec exact_spec() { return AttentionSpec{}; }

// Collapses a per-(layer, head) table whose entries are all the same into a uniform plan.
void normalize(AttentionPlan& plan) {
  if (plan.per_layer_head.empty()) return;
  const AttentionSpec first = plan.per_layer_head[0].empty() ? plan.fallback : plan.per_layer_head[0][0];
  for (const auto& row : plan.per_layer_head)
    for (const AttentionSpec& spec : row)
      if (!same_attention(spec, first)) return;
  plan.fallback = first;
  plan.per_layer_head.clear();
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open plan file: {}", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "cannot read plan file");
  return text.str();
}

int json_int(const nlohmann::json& value, const std::string& path, const std::string& what) {
  if (!value.is_number_integer()) fail(path, "{} must be an integer, got {}", what, value.dump());
  return value.get<int>();
}

AttentionPlan load_plan(const std::string& path, int depth, int heads) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, "invalid JSON: {}", e.what());
  }
  if (!doc.is_object()) fail(path, "a plan file must hold a JSON object");
  static const std::set<std::string> kKeys = {"format", "version", "model", "depth", "heads",
                                              "default", "entries", "notes"};
  for (const auto& item : doc.items())
    if (!kKeys.count(item.key()))
      fail(path, "unknown key '{}' (expected format, version, model, depth, heads, default, entries, notes)",
           item.key());
  if (doc.contains("format") && doc["format"] != kPlanFormat)
    fail(path, "format must be \"{}\", got {}", kPlanFormat, doc["format"].dump());
  if (doc.contains("version") && json_int(doc["version"], path, "version") != kPlanVersion)
    fail(path, "unsupported plan version {} (this build reads version {})", doc["version"].dump(), kPlanVersion);
  if (doc.contains("model") && !doc["model"].is_string()) fail(path, "model must be a string");
  if (doc.contains("depth") && json_int(doc["depth"], path, "depth") != depth)
    fail(path, "plan is for depth {}, the model has {} layers", doc["depth"].dump(), depth);
  if (doc.contains("heads") && json_int(doc["heads"], path, "heads") != heads)
    fail(path, "plan is for {} heads, the model has {}", doc["heads"].dump(), heads);

  AttentionPlan plan;
  plan.name = "plan:" + path;
  if (doc.contains("default")) {
    if (!doc["default"].is_string()) fail(path, "default must be a string such as \"exact\"");
    plan.fallback = parse_attention_spec(doc["default"].get<std::string>(), path + ": default");
  }
  if (!doc.contains("entries")) return plan;
  const nlohmann::json& entries = doc["entries"];
  if (!entries.is_array()) fail(path, "entries must be an array");
  if (entries.empty()) return plan;
  if (depth <= 0 || heads <= 0) fail(path, "entries need the model's depth and heads, which are unknown");

  plan.per_layer_head.assign(depth, std::vector<AttentionSpec>(heads, plan.fallback));
  std::set<std::pair<int, int>> seen;  // (layer, head or -1 for all heads)
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string where = fmt::format("entries[{}]", i);
    const nlohmann::json& entry = entries[i];
    if (!entry.is_object()) fail(path, "{} must be an object", where);
    for (const auto& item : entry.items())
      if (item.key() != "layer" && item.key() != "head" && item.key() != "attention")
        fail(path, "{}: unknown key '{}' (expected layer, head, attention)", where, item.key());
    if (!entry.contains("layer")) fail(path, "{}: missing \"layer\"", where);
    if (!entry.contains("attention") || !entry["attention"].is_string())
      fail(path, "{}: missing \"attention\" string", where);
    const int layer = json_int(entry["layer"], path, where + ".layer");
    if (layer < 0 || layer >= depth) fail(path, "{}: layer {} out of range 0..{}", where, layer, depth - 1);
    int head = -1;
    if (entry.contains("head")) {
      head = json_int(entry["head"], path, where + ".head");
      if (head < 0 || head >= heads) fail(path, "{}: head {} out of range 0..{}", where, head, heads - 1);
    }
    if (!seen.insert({layer, head}).second)
      fail(path, "{}: layer {}{} appears twice", where, layer, head < 0 ? "" : fmt::format(" head {}", head));
    const AttentionSpec spec =
        parse_attention_spec(entry["attention"].get<std::string>(), path + ": " + where + ".attention");
    for (int h = 0; h < heads; ++h)
      if (head < 0 || h == head) plan.per_layer_head[layer][h] = spec;
  }
  normalize(plan);
  return plan;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path temp = target.parent_path() / (target.filename().string() + fmt::format(".tmp-{}", ::getpid()));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot write plan file: {}", std::strerror(errno));
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      fail(path, "cannot write plan file: {}", std::strerror(err));
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "cannot write plan file: {}", std::strerror(err));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "cannot replace plan file: {}", std::strerror(err));
  }
}

}  // namespace

std::string describe(const AttentionSpec& spec) {
  switch (spec.kind) {
    case AttentionKind::Distr: {
      const DistrParams& d = spec.distr;
      std::string text = fmt::format("distr:l={}:G={}:{}", d.block, d.group,
                                     d.variant == DistrVariant::Mean ? "mean" : "sample");
      if (d.hash_bits != kDefaultDistr.hash_bits) text += fmt::format(":P={}", d.hash_bits);
      if (d.seed != kDefaultDistr.seed) text += fmt::format(":seed={}", d.seed);
      if (d.hash == DistrHash::Int8) text += ":hash=i8";
      return text;
    }
    case AttentionKind::LowRank: return fmt::format("lowrank:r={}", spec.rank);
    default: return attention_kind_name(spec.kind);
  }
}

bool same_attention(const AttentionSpec& a, const AttentionSpec& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == AttentionKind::Distr)
    return a.distr.block == b.distr.block && a.distr.group == b.distr.group && a.distr.variant == b.distr.variant &&
           a.distr.hash_bits == b.distr.hash_bits && a.distr.seed == b.distr.seed && a.distr.hash == b.distr.hash;
  if (a.kind == AttentionKind::LowRank) return a.rank == b.rank;
  return true;
}

const AttentionSpec& AttentionPlan::at(int layer, int head) const {
  if (per_layer_head.empty()) return fallback;
  if (layer < 0 || layer >= int(per_layer_head.size()) || head < 0 ||
      head >= int(per_layer_head[layer].size()))
    fail("attention plan '" + name + "'", "layer {} head {} is outside its {} layers x {} heads", layer, head,
         per_layer_head.size(), per_layer_head.empty() ? 0 : per_layer_head[0].size());
  return per_layer_head[layer][head];
}

const float* AttentionPlan::lowrank_basis(int layer, int head, int head_dim) const {
  const AttentionSpec& spec = at(layer, head);
  if (!lowrank || spec.kind != AttentionKind::LowRank || lowrank->rank != spec.rank || layer >= lowrank->depth ||
      head >= lowrank->heads || lowrank->head_dim != head_dim || spec.rank > head_dim)
    throw Error("--attention " + describe(spec) + ": needs calibrated projections (make a plan with distrvit calibrate)");
  return lowrank->at(layer, head);
}

bool AttentionPlan::uniform() const {
  for (const auto& row : per_layer_head)
    for (const AttentionSpec& spec : row)
      if (!same_attention(spec, fallback)) return false;
  return true;
}

AttentionSpec parse_attention_spec(const std::string& text, const std::string& subject) {
  const ParsedSpec parsed = parse_spec_with_selection(text, subject);
  if (parsed.has_layers || parsed.has_heads)
    fail(subject, "layers= and heads= are not allowed here, got '{}'", text);
  return parsed.spec;
}

AttentionPlan parse_attention(const std::string& text, int depth, int heads) {
  const std::string subject = "--attention";
  if (text.rfind("plan:", 0) == 0) {
    const std::string path = text.substr(5);
    if (path.empty()) fail(subject, "plan: needs a file, as in 'plan:plan.json'");
    return load_plan(path, depth, heads);
  }
  const ParsedSpec parsed = parse_spec_with_selection(text, subject);
  AttentionPlan plan;
  plan.name = text;
  if (!parsed.has_layers && !parsed.has_heads) {
    plan.fallback = parsed.spec;
    return plan;
  }
  const std::set<int> layers = parsed.has_layers ? parse_index_list(parsed.layers, "layer", depth, subject, text)
                                                 : parse_index_list("all", "layer", depth, subject, text);
  const std::set<int> head_set = parsed.has_heads ? parse_index_list(parsed.heads, "head", heads, subject, text)
                                                  : parse_index_list("all", "head", heads, subject, text);
  plan.fallback = exact_spec();
  plan.per_layer_head.assign(depth, std::vector<AttentionSpec>(heads, plan.fallback));
  for (int layer : layers)
    for (int head : head_set) plan.per_layer_head[layer][head] = parsed.spec;
  normalize(plan);
  return plan;
}

AttentionPlan uniform_plan(const AttentionSpec& spec) {
  AttentionPlan plan;
  plan.fallback = spec;
  plan.name = describe(spec);
  return plan;
}

void save_plan(const std::string& path, const AttentionPlan& plan, int depth, int heads, const std::string& model) {
  if (!plan.per_layer_head.empty()) {
    bool ok = int(plan.per_layer_head.size()) == depth;
    for (const auto& row : plan.per_layer_head) ok = ok && int(row.size()) == heads;
    if (!ok)
      fail(path, "cannot save plan '{}': its table is not {} layers x {} heads", plan.name, depth, heads);
  }
  nlohmann::ordered_json doc;
  doc["format"] = kPlanFormat;
  doc["version"] = kPlanVersion;
  if (!model.empty()) doc["model"] = model;
  doc["depth"] = depth;
  doc["heads"] = heads;
  doc["default"] = describe(plan.fallback);
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (int layer = 0; layer < int(plan.per_layer_head.size()); ++layer) {
    const std::vector<AttentionSpec>& row = plan.per_layer_head[layer];
    bool all_same = true;
    for (const AttentionSpec& spec : row) all_same = all_same && same_attention(spec, row[0]);
    if (all_same) {
      if (!row.empty() && !same_attention(row[0], plan.fallback))
        entries.push_back({{"layer", layer}, {"attention", describe(row[0])}});
      continue;
    }
    for (int head = 0; head < int(row.size()); ++head)
      if (!same_attention(row[head], plan.fallback))
        entries.push_back({{"layer", layer}, {"head", head}, {"attention", describe(row[head])}});
  }
  doc["entries"] = entries;
  write_file_atomically(path, doc.dump(2) + "\n");
}

}  // namespace distrvit
