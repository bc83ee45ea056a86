// Who is calling deployd's control API, and how identities are shown.
// Identities are never taken from a flag (issue 10.3): a caller is the
// kernel's word for the peer of the Unix socket (SO_PEERCRED → user name →
// `@name`, or the identity deployd's config maps that user to), or the
// holder of a token an admin created.
#pragma once

#include <llvm/ADT/StringRef.h>

#include <llvm/Support/Error.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dpl::runtime {

/// `@` then 1–64 of `[A-Za-z0-9._-]`, starting with a letter or digit, as in
/// DPL group members. Anything else (a newline, ESC, a space) is refused.
bool validIdentity(llvm::StringRef identity);

/// `text` safe for a terminal and for one journal line: control characters
/// (C0, DEL, C1), and invalid UTF-8 bytes, become `\xNN` (issue 10.4).
std::string escapeControl(llvm::StringRef text);

/// A new API token: `dpl_` and 64 hex digits from the kernel's CSPRNG
/// (getrandom). Empty when no randomness could be had.
std::string newToken();
/// The form a token is stored in: `sha256:` and the hex SHA-256 of it.
std::string tokenHash(llvm::StringRef token);

/// deployd's identity settings (`--config FILE`, docs/security.md).
struct IdentityConfig {
  /// System user name → identity (`root: "@ops"`); unmapped users are
  /// `@<user name>`.
  std::map<std::string, std::string> users;
  /// Identities that may create and revoke tokens and prune environments,
  /// besides the user deployd runs as and root.
  std::vector<std::string> admins;
};

/// Reads the YAML config (`users:` map, `admins:` list). Errors name the
/// file and the line.
llvm::Expected<IdentityConfig> loadIdentityConfig(const std::string &path);

/// The identity of the local user `uid` under `config`; nullopt when the
/// uid has no user name or maps to an invalid identity.
std::optional<std::string> identityOfUid(unsigned uid, const IdentityConfig &config);

} // namespace dpl::runtime
