// Error values: every fallible operation on user input returns Result<T> instead of throwing or aborting.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace cria {

// What a caller may do about an error, where that differs from "the input is wrong": a full KV cache or
// context (free some sequences, or wait) is told apart from a bad request, and an input longer than the
// context can ever hold (shorten it) from both.
enum class ErrorKind { kInvalid, kFull, kTooLong };

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kInvalid;
};

inline Error make_error(std::string message, ErrorKind kind = ErrorKind::kInvalid) {
  return Error{std::move(message), kind};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;

}  // namespace cria
