#include "attention_choice.h"

#include <sstream>
#include <vector>

namespace distrvit::gui {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

bool parse_int(const std::string& text, int& value) {
  try {
    size_t used = 0;
    value = std::stoi(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string AttentionChoice::text() const {
  switch (backend) {
    case Backend::Exact: return "exact";
    case Backend::Cudnn: return "cudnn";
    case Backend::Naive: return "naive";
    case Backend::Distr: {
      std::string text = "distr:l=" + std::to_string(block) + ":G=" + std::to_string(group);
      if (sample) text += ":sample";
      if (hash_bits != 16) text += ":P=" + std::to_string(hash_bits);
      if (seed != 0) text += ":seed=" + std::to_string(seed);
      if (int8_hash) text += ":hash=i8";
      return text + selection;
    }
    case Backend::LowRank: return "lowrank:r=" + std::to_string(rank) + selection;
    case Backend::Plan: return "plan:" + plan_file;
    case Backend::Text: return typed;
  }
  return "exact";
}

AttentionChoice choice_from_text(const std::string& text) {
  AttentionChoice choice;
  choice.typed = text;
  const auto as_typed = [&] {
    AttentionChoice typed = choice;
    typed.backend = Backend::Text;
    return typed;
  };
  if (text.rfind("plan:", 0) == 0) {
    choice.backend = Backend::Plan;
    choice.plan_file = text.substr(5);
    return choice;
  }
  const std::vector<std::string> parts = split(text, ':');
  if (parts.empty()) return as_typed();
  const std::string& kind = parts.front();
  if (parts.size() == 1 && kind == "exact") choice.backend = Backend::Exact;
  else if (parts.size() == 1 && kind == "cudnn") choice.backend = Backend::Cudnn;
  else if (parts.size() == 1 && kind == "naive") choice.backend = Backend::Naive;
  else if (kind == "distr") choice.backend = Backend::Distr;
  else if (kind == "lowrank") choice.backend = Backend::LowRank;
  else return as_typed();

  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const size_t equals = part.find('=');
    const std::string key = part.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : part.substr(equals + 1);
    int number = 0;
    if (key == "layers" || key == "heads") choice.selection += ":" + part;
    else if (choice.backend == Backend::Distr && key == "l" && parse_int(value, number)) choice.block = number;
    else if (choice.backend == Backend::Distr && key == "G" && parse_int(value, number)) choice.group = number;
    else if (choice.backend == Backend::Distr && key == "P" && parse_int(value, number)) choice.hash_bits = number;
    else if (choice.backend == Backend::Distr && key == "seed" && parse_int(value, number) && number >= 0) choice.seed = number;
    else if (choice.backend == Backend::Distr && (part == "mean" || part == "variant=mean")) choice.sample = false;
    else if (choice.backend == Backend::Distr && (part == "sample" || part == "variant=sample")) choice.sample = true;
    else if (choice.backend == Backend::Distr && (part == "hash=i8" || part == "hash=fma"))
      choice.int8_hash = part == "hash=i8";
    else if (choice.backend == Backend::LowRank && key == "r" && parse_int(value, number)) choice.rank = number;
    else return as_typed();
  }
  return choice;
}

}  // namespace distrvit::gui
