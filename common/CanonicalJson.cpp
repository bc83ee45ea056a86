// Canonical JSON printing and hashing.
#include "common/CanonicalJson.h"

#include <llvm/Support/SHA256.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace dpl {

namespace {

void writeString(std::string &out, llvm::StringRef s) {
  out += '"';
  // Runs of characters that need no escape are appended whole.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

/// Numbers print so that reading them back gives the same value. LLVM 14's
/// parser reads an integer literal beyond int64_t as INT64_MAX, and its
/// getAsInteger() overflows converting a double of exactly 2^63; so nothing
/// at or above 2^63 is printed as an integer (found by fuzz_plan_loader).
void writeNumber(std::string &out, const llvm::json::Value &v) {
  if (auto u = v.getAsUINT64(); u && *u <= uint64_t(std::numeric_limits<int64_t>::max())) {
    out += std::to_string(*u);
    return;
  }
  double d = v.getAsNumber().getValueOr(0);
  if (d < 0x1p63)
    if (auto i = v.getAsInteger()) {
      out += std::to_string(*i);
      return;
    }
  if (!std::isfinite(d)) {
    out += "null"; // JSON has no NaN or infinity
    return;
  }
  char buf[64];
  // Shortest round trip; with an exponent beyond the int64_t range.
  auto res = std::fabs(d) < 0x1p63 ? std::to_chars(buf, buf + sizeof buf, d)
                                   : std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  out.append(buf, res.ptr);
}

void write(std::string &out, const llvm::json::Value &v, int indent, int depth) {
  auto newline = [&](int d) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(size_t(indent * d), ' ');
  };
  switch (v.kind()) {
  case llvm::json::Value::Null: out += "null"; return;
  case llvm::json::Value::Boolean: out += *v.getAsBoolean() ? "true" : "false"; return;
  case llvm::json::Value::Number: writeNumber(out, v); return;
  case llvm::json::Value::String: writeString(out, *v.getAsString()); return;
  case llvm::json::Value::Array: {
    const auto &a = *v.getAsArray();
    out += '[';
    for (size_t i = 0; i < a.size(); ++i) {
      if (i)
        out += ',';
      newline(depth + 1);
      write(out, a[i], indent, depth + 1);
    }
    if (!a.empty())
      newline(depth);
    out += ']';
    return;
  }
  case llvm::json::Value::Object: {
    const auto &o = *v.getAsObject();
    std::vector<const llvm::json::Object::value_type *> entries;
    for (const auto &e : o)
      entries.push_back(&e);
    std::sort(entries.begin(), entries.end(),
              [](auto *a, auto *b) { return llvm::StringRef(a->first) < llvm::StringRef(b->first); });
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i)
        out += ',';
      newline(depth + 1);
      writeString(out, entries[i]->first);
      out += indent < 0 ? ":" : ": ";
      write(out, entries[i]->second, indent, depth + 1);
    }
    if (!entries.empty())
      newline(depth);
    out += '}';
    return;
  }
  }
}

} // namespace

std::string canonicalJson(const llvm::json::Value &v) {
  std::string out;
  write(out, v, -1, 0);
  return out;
}

std::string prettyJson(const llvm::json::Value &v) {
  std::string out;
  write(out, v, 2, 0);
  return out + "\n";
}

void appendJson(std::string &out, const llvm::json::Value &v, bool pretty, int depth) {
  write(out, v, pretty ? 2 : -1, depth);
}

void appendIndented(std::string &out, llvm::StringRef c, int depth) {
  auto newline = [&](int d) {
    out += '\n';
    out.append(size_t(2 * d), ' ');
  };
  size_t run = 0; // start of the bytes not yet copied
  bool inString = false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (inString) {
      if (ch == '\\')
        ++i; // the escaped character cannot end the string
      else if (ch == '"')
        inString = false;
      continue;
    }
    switch (ch) {
    case '"': inString = true; break;
    case '{': case '[':
      if (i + 1 < c.size() && (c[i + 1] == '}' || c[i + 1] == ']')) {
        ++i; // an empty object or array stays "{}" / "[]"
        break;
      }
      out.append(c.data() + run, i + 1 - run);
      run = i + 1;
      newline(++depth);
      break;
    case '}': case ']':
      out.append(c.data() + run, i - run);
      run = i;
      newline(--depth);
      break;
    case ',':
      out.append(c.data() + run, i + 1 - run);
      run = i + 1;
      newline(depth);
      break;
    case ':':
      out.append(c.data() + run, i + 1 - run);
      run = i + 1;
      out += ' ';
      break;
    default: break;
    }
  }
  out.append(c.data() + run, c.size() - run);
}

std::string sha256Of(const llvm::json::Value &v) {
  std::string bytes = canonicalJson(v);
  return sha256Text(
      llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size())));
}

std::string sha256Text(const std::array<uint8_t, 32> &digest) {
  std::string out = "sha256:";
  static const char *hex = "0123456789abcdef";
  for (uint8_t b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

} // namespace dpl
