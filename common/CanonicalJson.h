// Canonical JSON: the one byte representation of a JSON value that plan
// hashes are computed over (object keys sorted by byte order, no whitespace,
// integers as integers, other numbers in their shortest round-trip form,
// strings escaped minimally). Shared by the compiler and the runtime.
#pragma once

#include <llvm/Support/JSON.h>

#include <array>
#include <cstdint>
#include <string>

namespace dpl {

/// Compact canonical form (the hashed bytes).
std::string canonicalJson(const llvm::json::Value &v);
/// Same ordering and numbers, indented by two spaces, newline-terminated:
/// what `deployc compile` writes, diff-friendly and byte-stable.
std::string prettyJson(const llvm::json::Value &v);
/// "sha256:<64 lowercase hex digits>" of canonicalJson(v).
std::string sha256Of(const llvm::json::Value &v);
/// "sha256:<64 lowercase hex digits>" of a digest.
std::string sha256Text(const std::array<uint8_t, 32> &digest);
/// Appends `v` to `out`: canonical (compact) or pretty as if nested `depth`
/// levels deep (its lines indented by 2 × depth spaces after the first), so
/// that a large document can be written one member at a time with the same
/// bytes as prettyJson / canonicalJson of the whole.
void appendJson(std::string &out, const llvm::json::Value &v, bool pretty, int depth);
/// Appends the pretty form of `canonical` (canonicalJson's output) as
/// appendJson(out, v, /*pretty=*/true, depth) would write it, by re-indenting
/// the text instead of walking and sorting the value again.
void appendIndented(std::string &out, llvm::StringRef canonical, int depth);

} // namespace dpl
