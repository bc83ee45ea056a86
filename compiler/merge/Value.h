// Evaluated DPL values: what a field resolves to after merging, in base
// units (durations in milliseconds, percentages as written 0..100, times of
// day in minutes since midnight).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dpl {

struct Value {
  enum class Kind : uint8_t {
    Null,     ///< absent (an optional field that is not set)
    Bool, Int, Float, String,
    Duration, ///< milliseconds in `i`
    Percent,  ///< 0..100 in `f`
    Time,     ///< minutes since midnight in `i`
    Name,     ///< enum member or reference (environment, service, group) in `s`
    List,     ///< `items`
    Map,      ///< `fields`, keys sorted
    Record,   ///< kind in `s`, `fields` in declaration order
  };
  Kind kind = Kind::Null;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> fields;

  static Value null() { return {}; }
  static Value boolean(bool v) { Value x; x.kind = Kind::Bool; x.b = v; return x; }
  static Value integer(int64_t v) { Value x; x.kind = Kind::Int; x.i = v; return x; }
  static Value string(std::string v) { Value x; x.kind = Kind::String; x.s = std::move(v); return x; }

  bool isNull() const { return kind == Kind::Null; }
  /// Field of a record or map, or null.
  const Value *field(const std::string &name) const {
    for (auto &[k, v] : fields)
      if (k == name)
        return &v;
    return nullptr;
  }
  bool operator==(const Value &o) const;
  bool operator!=(const Value &o) const { return !(*this == o); }
};

/// The value as DPL source would write it: `30s`, `"x"`, `[dev, staging]`,
/// `process { workdir = "d"; base_port = 18000; }`. Used in messages and
/// `deployc explain`.
std::string toSource(const Value &v);

} // namespace dpl
