// Canonical JSON: the one byte representation of a JSON value that plan
// hashes are computed over (object keys sorted by byte order, no whitespace,
// integers as integers, other numbers in their shortest round-trip form,
// strings escaped minimally). Shared by the compiler and the runtime.
#pragma once

#include <llvm/Support/JSON.h>

#include <string>

namespace dpl {

/// Compact canonical form (the hashed bytes).
std::string canonicalJson(const llvm::json::Value &v);
/// Same ordering and numbers, indented by two spaces, newline-terminated:
/// what `deployc compile` writes, diff-friendly and byte-stable.
std::string prettyJson(const llvm::json::Value &v);
/// "sha256:<64 lowercase hex digits>" of canonicalJson(v).
std::string sha256Of(const llvm::json::Value &v);

} // namespace dpl
