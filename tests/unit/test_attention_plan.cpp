// Attention specs and plans: describe(), the --attention grammar, plan files, AttentionPlan.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "distrvit/attention_plan.h"
#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/model.h"
#include "test_util.h"

using namespace distrvit;

namespace {

AttentionSpec distr_spec(int block, int group, DistrVariant variant = DistrVariant::Mean, int bits = 16,
                         uint64_t seed = 0) {
  AttentionSpec spec;
  spec.kind = AttentionKind::Distr;
  spec.distr.block = block;
  spec.distr.group = group;
  spec.distr.variant = variant;
  spec.distr.hash_bits = bits;
  spec.distr.seed = seed;
  return spec;
}

AttentionSpec kind_spec(AttentionKind kind, int rank = 0) {
  AttentionSpec spec;
  spec.kind = kind;
  spec.rank = rank;
  return spec;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string error_of(const std::string& text, int depth = 12, int heads = 3) {
  try {
    parse_attention(text, depth, heads);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("plan: describe") {
  CHECK(describe(kind_spec(AttentionKind::Exact)) == "exact");
  CHECK(describe(kind_spec(AttentionKind::Cudnn)) == "cudnn");
  CHECK(describe(kind_spec(AttentionKind::Naive)) == "naive");
  CHECK(describe(kind_spec(AttentionKind::LowRank, 32)) == "lowrank:r=32");
  CHECK(describe(distr_spec(64, 2)) == "distr:l=64:G=2:mean");  // P=16 and seed=0 are defaults
  CHECK(describe(distr_spec(16, 4, DistrVariant::Sample, 8, 7)) == "distr:l=16:G=4:sample:P=8:seed=7");
  CHECK(describe(distr_spec(64, 2, DistrVariant::Mean, 16, 3)) == "distr:l=64:G=2:mean:seed=3");
  AttentionSpec int8 = distr_spec(16, 2);
  int8.distr.hash = DistrHash::Int8;
  CHECK(describe(int8) == "distr:l=16:G=2:mean:hash=i8");
  CHECK(same_attention(parse_attention_spec("distr:hash=i8:l=16"), int8));
  CHECK(!same_attention(int8, distr_spec(16, 2)));
  CHECK(same_attention(parse_attention_spec("distr:l=16:hash=fma"), distr_spec(16, 2)));
}

TEST_CASE("plan: describe round-trips through parse") {
  const AttentionSpec specs[] = {
      kind_spec(AttentionKind::Exact),
      kind_spec(AttentionKind::Cudnn),
      kind_spec(AttentionKind::Naive),
      kind_spec(AttentionKind::LowRank, 16),
      distr_spec(64, 2),
      distr_spec(1, 1, DistrVariant::Sample, 1, 1),
      distr_spec(197, 4, DistrVariant::Mean, 32, 18446744073709551615ull),
  };
  for (const AttentionSpec& spec : specs) {
    const std::string text = describe(spec);
    CAPTURE(text);
    const AttentionPlan plan = parse_attention(text, 12, 3);
    CHECK(plan.uniform());
    CHECK(plan.per_layer_head.empty());
    CHECK(same_attention(plan.fallback, spec));
    CHECK(plan.name == text);
    CHECK(describe(parse_attention_spec(text)) == text);
  }
}

TEST_CASE("plan: distr options, defaults and spellings") {
  const AttentionSpec d = parse_attention_spec("distr");
  CHECK(same_attention(d, distr_spec(64, 2)));
  CHECK(same_attention(parse_attention_spec("distr:seed=3:P=8:variant=sample:G=4:l=16"),
                       distr_spec(16, 4, DistrVariant::Sample, 8, 3)));
  CHECK(same_attention(parse_attention_spec("distr:sample"), distr_spec(64, 2, DistrVariant::Sample)));
  CHECK(same_attention(parse_attention_spec("distr:l=16:mean"), distr_spec(16, 2)));
  CHECK(!same_attention(distr_spec(16, 2), distr_spec(16, 2, DistrVariant::Mean, 16, 1)));
  // Parameters of other kinds do not matter for equality.
  AttentionSpec exact_with_junk = kind_spec(AttentionKind::Exact);
  exact_with_junk.distr.block = 3;
  exact_with_junk.rank = 9;
  CHECK(same_attention(exact_with_junk, kind_spec(AttentionKind::Exact)));
}

TEST_CASE("plan: layers= and heads= select, everything else runs exact") {
  const std::string text = "distr:l=16:G=2:layers=6-11,2:heads=0,2";
  const AttentionPlan plan = parse_attention(text, 12, 3);
  CHECK(plan.name == text);
  CHECK(!plan.uniform());
  CHECK(plan.fallback.kind == AttentionKind::Exact);
  REQUIRE(plan.per_layer_head.size() == 12);
  for (int layer = 0; layer < 12; ++layer) {
    REQUIRE(plan.per_layer_head[layer].size() == 3);
    for (int head = 0; head < 3; ++head) {
      const bool selected = (layer == 2 || layer >= 6) && head != 1;
      CAPTURE(layer);
      CAPTURE(head);
      CHECK(plan.at(layer, head).kind == (selected ? AttentionKind::Distr : AttentionKind::Exact));
      if (selected) CHECK(same_attention(plan.at(layer, head), distr_spec(16, 2)));
    }
  }

  const AttentionPlan layers_only = parse_attention("lowrank:r=32:layers=0", 12, 3);
  CHECK(layers_only.at(0, 2).kind == AttentionKind::LowRank);
  CHECK(layers_only.at(0, 2).rank == 32);
  CHECK(layers_only.at(1, 0).kind == AttentionKind::Exact);

  const AttentionPlan heads_only = parse_attention("distr:heads=1", 12, 3);
  CHECK(heads_only.at(11, 1).kind == AttentionKind::Distr);
  CHECK(heads_only.at(11, 0).kind == AttentionKind::Exact);

  // A selection that covers everything is the uniform plan.
  const AttentionPlan all = parse_attention("distr:G=4:layers=all:heads=0-2", 12, 3);
  CHECK(all.uniform());
  CHECK(all.per_layer_head.empty());
  CHECK(same_attention(all.fallback, distr_spec(64, 4)));
}

TEST_CASE("plan: bad --attention texts name the problem") {
  CHECK(error_of("distr:x=1") == "--attention: unknown key 'x' in 'distr:x=1'");
  CHECK(error_of("lowrank:r=4:l=3") == "--attention: unknown key 'l' in 'lowrank:r=4:l=3'");
  CHECK(error_of("flash") ==
        "--attention: unknown attention 'flash' in 'flash' (expected exact, cudnn, naive, distr, lowrank or plan:FILE)");
  CHECK(error_of("") ==
        "--attention: unknown attention '' in '' (expected exact, cudnn, naive, distr, lowrank or plan:FILE)");
  CHECK(error_of("exact:layers=1") == "--attention: 'exact' takes no options, got 'exact:layers=1'");
  CHECK(error_of("distr:l=0") == "--attention: l must be an integer in 1..1048576, got '0' in 'distr:l=0'");
  CHECK(error_of("distr:l=6x4") == "--attention: l must be an integer in 1..1048576, got '6x4' in 'distr:l=6x4'");
  CHECK(error_of("distr:G=") == "--attention: G must be an integer in 1..4096, got '' in 'distr:G='");
  CHECK(error_of("distr:P=33") == "--attention: P must be an integer in 1..32, got '33' in 'distr:P=33'");
  CHECK(error_of("distr:seed=-1") ==
        "--attention: seed must be an unsigned 64-bit decimal integer, got '-1' in 'distr:seed=-1'");
  CHECK(error_of("distr:seed=18446744073709551616").find("seed must be") != std::string::npos);
  CHECK(error_of("distr:G=2:G=4") == "--attention: duplicate key 'G' in 'distr:G=2:G=4'");
  CHECK(error_of("distr:mean:variant=sample") == "--attention: duplicate key 'variant' in 'distr:mean:variant=sample'");
  CHECK(error_of("distr:variant=max") == "--attention: variant must be mean or sample, got 'max' in 'distr:variant=max'");
  CHECK(error_of("distr:hash=int4") == "--attention: hash must be fma or i8, got 'int4' in 'distr:hash=int4'");
  CHECK(error_of("distr:l") == "--attention: option 'l' needs a value (key=value) in 'distr:l'");
  CHECK(error_of("distr::l=4") == "--attention: empty option in 'distr::l=4'");
  CHECK(error_of("distr:") == "--attention: empty option in 'distr:'");
  CHECK(error_of("lowrank") == "--attention: lowrank needs r=RANK in 'lowrank'");
  CHECK(error_of("lowrank:r=0").find("r must be an integer in 1..") != std::string::npos);
  CHECK(error_of("distr:layers=12") ==
        "--attention: layer index (0..11) must be an integer in 0..11, got '12' in 'distr:layers=12'");
  CHECK(error_of("distr:heads=3") ==
        "--attention: head index (0..2) must be an integer in 0..2, got '3' in 'distr:heads=3'");
  CHECK(error_of("distr:layers=5-3") == "--attention: layer range '5-3' runs backwards in 'distr:layers=5-3'");
  CHECK(error_of("distr:layers=") == "--attention: empty layer list in 'distr:layers='");
  CHECK(error_of("distr:layers=1,,2") == "--attention: empty item in layer list '1,,2' in 'distr:layers=1,,2'");
  CHECK(error_of("distr:layers=1", 0, 0) ==
        "--attention: layers= needs the model's layer count, which is unknown, in 'distr:layers=1'");
  CHECK(error_of("plan:") == "--attention: plan: needs a file, as in 'plan:plan.json'");
  CHECK_THROWS_WITH_AS(parse_attention_spec("distr:layers=1"),
                       "--attention: layers= and heads= are not allowed here, got 'distr:layers=1'", Error);
}

TEST_CASE("plan: AttentionPlan at() and uniform()") {
  AttentionPlan plan;
  CHECK(plan.uniform());
  CHECK(plan.at(0, 0).kind == AttentionKind::Exact);
  CHECK(plan.at(100, 100).kind == AttentionKind::Exact);  // no table: fallback everywhere

  plan.fallback = distr_spec(64, 2);
  plan.per_layer_head.assign(2, std::vector<AttentionSpec>(2, distr_spec(64, 2)));
  CHECK(plan.uniform());  // a table equal to the fallback everywhere is uniform
  plan.per_layer_head[1][0] = distr_spec(16, 2);
  CHECK(!plan.uniform());
  CHECK(plan.at(1, 0).distr.block == 16);
  CHECK(plan.at(0, 1).distr.block == 64);
  CHECK_THROWS_AS(plan.at(2, 0), Error);
  CHECK_THROWS_AS(plan.at(0, -1), Error);
}

TEST_CASE("plan: save_plan and plan:FILE round-trip") {
  test::TempDir dir;
  const std::string path = (dir / "plan.json").string();
  AttentionPlan plan;
  plan.name = "hand-made";
  plan.per_layer_head.assign(12, std::vector<AttentionSpec>(3));
  for (int head = 0; head < 3; ++head) plan.per_layer_head[3][head] = distr_spec(16, 2);
  plan.per_layer_head[5][1] = distr_spec(64, 2, DistrVariant::Sample, 8, 9);
  plan.per_layer_head[7][0] = kind_spec(AttentionKind::LowRank, 32);
  save_plan(path, plan, 12, 3, "vit_tiny_patch16_224");

  // Nothing but the plan is left in the folder (the temporary file was renamed).
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    CHECK(entry.path().filename() == "plan.json");
  }
  CHECK(files == 1);

  nlohmann::json doc;
  std::ifstream(path) >> doc;
  CHECK(doc["format"] == "distrvit-attention-plan");
  CHECK(doc["version"] == 1);
  CHECK(doc["model"] == "vit_tiny_patch16_224");
  CHECK(doc["depth"] == 12);
  CHECK(doc["heads"] == 3);
  CHECK(doc["default"] == "exact");
  REQUIRE(doc["entries"].size() == 3);
  CHECK(doc["entries"][0] == nlohmann::json{{"layer", 3}, {"attention", "distr:l=16:G=2:mean"}});  // whole layer
  CHECK(doc["entries"][1] ==
        nlohmann::json{{"layer", 5}, {"head", 1}, {"attention", "distr:l=64:G=2:sample:P=8:seed=9"}});
  CHECK(doc["entries"][2] == nlohmann::json{{"layer", 7}, {"head", 0}, {"attention", "lowrank:r=32"}});

  const AttentionPlan loaded = parse_attention("plan:" + path, 12, 3);
  CHECK(loaded.name == "plan:" + path);
  CHECK(!loaded.uniform());
  for (int layer = 0; layer < 12; ++layer)
    for (int head = 0; head < 3; ++head) {
      CAPTURE(layer);
      CAPTURE(head);
      CHECK(same_attention(loaded.at(layer, head), plan.at(layer, head)));
    }

  // Saving over an existing plan replaces it; a uniform plan has no entries and loads as uniform.
  save_plan(path, uniform_plan(distr_spec(32, 4)), 12, 3);
  const AttentionPlan uniform = parse_attention("plan:" + path, 12, 3);
  CHECK(uniform.uniform());
  CHECK(same_attention(uniform.fallback, distr_spec(32, 4)));

  // A parsed selection saves and loads to the same table.
  const AttentionPlan selected = parse_attention("distr:l=16:layers=6-11:heads=0,2", 12, 3);
  save_plan(path, selected, 12, 3);
  const AttentionPlan reloaded = parse_attention("plan:" + path, 12, 3);
  for (int layer = 0; layer < 12; ++layer)
    for (int head = 0; head < 3; ++head) CHECK(same_attention(reloaded.at(layer, head), selected.at(layer, head)));

  CHECK_THROWS_WITH_AS(save_plan(path, plan, 12, 4),
                       (path + ": cannot save plan 'hand-made': its table is not 12 layers x 4 heads").c_str(), Error);
  CHECK_THROWS_AS(save_plan((dir / "missing" / "plan.json").string(), plan, 12, 3), Error);
}

TEST_CASE("plan: hand-written plan files and their errors") {
  test::TempDir dir;
  const auto plan_error = [&](const std::string& json) -> std::string {
    const std::string path = (dir / "p.json").string();
    write_text(path, json);
    try {
      parse_attention("plan:" + path, 12, 3);
    } catch (const Error& e) {
      std::string message = e.what();
      CHECK(message.rfind(path, 0) == 0);  // every message names the file first
      return message.substr(path.size());
    }
    return "(no error)";
  };

  // Minimal file, layer-wide entry then a per-head override, "notes" ignored.
  const std::string path = (dir / "ok.json").string();
  write_text(path, R"({"default": "distr:l=64:G=2", "notes": {"top1": 80.1},
    "entries": [{"layer": 0, "attention": "exact"}, {"layer": 0, "head": 2, "attention": "distr:l=16:G=2:sample"}]})");
  const AttentionPlan plan = parse_attention("plan:" + path, 12, 3);
  CHECK(plan.at(0, 0).kind == AttentionKind::Exact);
  CHECK(plan.at(0, 1).kind == AttentionKind::Exact);
  CHECK(same_attention(plan.at(0, 2), distr_spec(16, 2, DistrVariant::Sample)));
  CHECK(same_attention(plan.at(1, 0), distr_spec(64, 2)));
  CHECK(same_attention(parse_attention("plan:" + path, 12, 3).at(11, 2), distr_spec(64, 2)));

  write_text(path, "{}");
  CHECK(parse_attention("plan:" + path, 12, 3).uniform());
  CHECK(parse_attention("plan:" + path, 12, 3).fallback.kind == AttentionKind::Exact);

  CHECK(plan_error("[1, 2]") == ": a plan file must hold a JSON object");
  CHECK(plan_error("{\"default\": \"exact\",}").rfind(": invalid JSON: ", 0) == 0);
  CHECK(plan_error(R"({"entrys": []})") ==
        ": unknown key 'entrys' (expected format, version, model, depth, heads, default, entries, notes)");
  CHECK(plan_error(R"({"format": "other"})") == ": format must be \"distrvit-attention-plan\", got \"other\"");
  CHECK(plan_error(R"({"version": 2})") == ": unsupported plan version 2 (this build reads version 1)");
  CHECK(plan_error(R"({"depth": 24})") == ": plan is for depth 24, the model has 12 layers");
  CHECK(plan_error(R"({"heads": 6})") == ": plan is for 6 heads, the model has 3");
  CHECK(plan_error(R"({"default": "distr:q=1"})") == ": default: unknown key 'q' in 'distr:q=1'");
  CHECK(plan_error(R"({"default": "plan:x.json"})") == ": default: a plan file cannot be used here, got 'plan:x.json'");
  CHECK(plan_error(R"({"entries": {}})") == ": entries must be an array");
  CHECK(plan_error(R"({"entries": [{"layer": 12, "attention": "exact"}]})") == ": entries[0]: layer 12 out of range 0..11");
  CHECK(plan_error(R"({"entries": [{"layer": 1, "head": 3, "attention": "exact"}]})") ==
        ": entries[0]: head 3 out of range 0..2");
  CHECK(plan_error(R"({"entries": [{"layer": "1", "attention": "exact"}]})") ==
        ": entries[0].layer must be an integer, got \"1\"");
  CHECK(plan_error(R"({"entries": [{"layer": 1}]})") == ": entries[0]: missing \"attention\" string");
  CHECK(plan_error(R"({"entries": [{"attention": "exact"}]})") == ": entries[0]: missing \"layer\"");
  CHECK(plan_error(R"({"entries": [{"layer": 1, "attention": "exact", "heads": 2}]})") ==
        ": entries[0]: unknown key 'heads' (expected layer, head, attention)");
  CHECK(plan_error(R"({"entries": [{"layer": 1, "attention": "distr"}, {"layer": 1, "attention": "exact"}]})") ==
        ": entries[1]: layer 1 appears twice");
  CHECK(plan_error(R"({"entries": [{"layer": 1, "attention": "distr:layers=2"}]})") ==
        ": entries[0].attention: layers= and heads= are not allowed here, got 'distr:layers=2'");

  const std::string missing = (dir / "none.json").string();
  CHECK_THROWS_WITH_AS(parse_attention("plan:" + missing, 12, 3),
                       (missing + ": cannot open plan file: No such file or directory").c_str(), Error);
}

TEST_CASE("plan: the CPU engine runs each (layer, head) as its plan says") {
  // ViT-Ti layout (12 layers x 3 heads) with random weights at 64 px: 17 tokens, so l=16 leaves a last
  // block of one row.
  auto model = std::make_shared<const VitModel>(random_model("vit_tiny_patch16_224", 64, 3));
  auto engine = create_engine(model, EngineOptions{});
  Tensor input({2, 3, 64, 64});
  for (int64_t i = 0; i < input.numel(); ++i) input.data[i] = float(std::sin(0.37 * double(i)));
  const auto run = [&](const AttentionPlan& plan, int capture_layer, Tensor* probs = nullptr) {
    engine->set_attention(plan);
    engine->capture_cls_attention(capture_layer);
    Tensor logits = engine->forward(input);
    if (probs) *probs = engine->captured_cls_attention();
    return logits;
  };
  const auto max_diff = [](const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape == b.shape);
    float worst = 0;
    for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
    return worst;
  };

  Tensor exact_probs, probs, before_exact, before;
  const Tensor exact = run(parse_attention("exact", 12, 3), 2, &exact_probs);
  run(parse_attention("exact", 12, 3), 1, &before_exact);

  // DistrAttention on layer 2, head 1 only: layer 2's class-token attention changes in head 1 alone,
  // earlier layers not at all, and the logits move.
  const AttentionPlan one_head = parse_attention("distr:l=16:G=4:layers=2:heads=1", 12, 3);
  const Tensor one = run(one_head, 2, &probs);
  REQUIRE(probs.shape == std::vector<int64_t>{2, 3, 17});
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 3; ++h) {
      float diff = 0;
      for (int t = 0; t < 17; ++t) {
        const int64_t i = (int64_t(b) * 3 + h) * 17 + t;
        diff = std::max(diff, std::abs(probs.data[i] - exact_probs.data[i]));
      }
      CAPTURE(b);
      CAPTURE(h);
      if (h == 1) {
        CHECK(diff > 1e-4f);
      } else {
        CHECK(diff < 1e-6f);
      }
    }
  run(one_head, 1, &before);
  CHECK(max_diff(before, before_exact) == 0.0f);
  CHECK(max_diff(one, exact) > 1e-4f);

  // Two heads differ from one head; G=1 on that head is exact attention again.
  const Tensor two = run(parse_attention("distr:l=16:G=4:layers=2:heads=0-1", 12, 3), -1);
  CHECK(max_diff(two, one) > 1e-4f);
  CHECK(max_diff(run(parse_attention("distr:l=16:G=1:layers=2:heads=1", 12, 3), -1), exact) < 1e-4f);

  // The same table from a plan file gives the same logits, bit for bit.
  test::TempDir dir;
  const std::string path = (dir / "plan.json").string();
  save_plan(path, one_head, 12, 3, model->config.architecture);
  CHECK(max_diff(run(parse_attention("plan:" + path, 12, 3), -1), one) == 0.0f);
}
