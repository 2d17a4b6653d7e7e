// Errors that reach the user: one line naming the file (or thing) and the problem.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace distrvit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error("<subject>: <problem>").
template <typename... Args>
[[noreturn]] void fail(const std::string& subject, fmt::format_string<Args...> problem, Args&&... args) {
  throw Error(subject + ": " + fmt::format(problem, std::forward<Args>(args)...));
}

}  // namespace distrvit
