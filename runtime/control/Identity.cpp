// Identities, tokens and escaping for the control API (see Identity.h).
#include "runtime/control/Identity.h"

#include <llvm/Support/Error.h>
#include <llvm/Support/SHA256.h>
#include <yaml-cpp/yaml.h>

#include <pwd.h>
#include <sys/random.h>
#include <unistd.h>

#include <vector>

namespace dpl::runtime {

bool validIdentity(llvm::StringRef id) {
  if (id.size() < 2 || id.size() > 65 || id[0] != '@' || !llvm::isAlnum(id[1]))
    return false;
  for (char c : id.drop_front())
    if (!(llvm::isAlnum(c) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

std::string escapeControl(llvm::StringRef s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [&](unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 15];
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7f) {
      hex(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += char(c);
      ++i;
      continue;
    }
    // UTF-8: the sequence's length from its lead byte; C1 controls
    // (U+0080–U+009F, lead 0xC2 then 0x80–0x9F) are escaped too.
    size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool ok = n && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0)
      ok = false;
    if (!ok) {
      hex(c);
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  return out;
}

std::string newToken() {
  unsigned char bytes[32];
  size_t have = 0;
  while (have < sizeof bytes) {
    ssize_t n = getrandom(bytes + have, sizeof bytes - have, 0);
    if (n <= 0)
      return "";
    have += size_t(n);
  }
  std::string out = "dpl_";
  static const char digits[] = "0123456789abcdef";
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string tokenHash(llvm::StringRef token) {
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(token));
  std::string out = "sha256:";
  static const char digits[] = "0123456789abcdef";
  for (uint8_t b : digest) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

llvm::Expected<IdentityConfig> loadIdentityConfig(const std::string &path) {
  auto bad = [&](const YAML::Mark &mark, const std::string &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s:%d:%d: %s", path.c_str(), mark.line + 1,
                                   mark.column + 1, what.c_str());
  };
  IdentityConfig config;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile &) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot read config %s", path.c_str());
  } catch (const YAML::Exception &e) {
    return bad(e.mark, e.msg);
  }
  if (root.IsNull())
    return config;
  if (!root.IsMap())
    return bad(root.Mark(), "expected a mapping with `users` and `admins`");
  for (auto entry : root) {
    std::string key = entry.first.as<std::string>("");
    const YAML::Node &value = entry.second;
    if (key == "users") {
      if (!value.IsMap())
        return bad(value.Mark(), "`users` must map user names to identities");
      for (auto u : value) {
        std::string id = u.second.IsScalar() ? u.second.as<std::string>() : "";
        if (!validIdentity(id))
          return bad(u.second.Mark(), "invalid identity `" + escapeControl(id) + "` (expected @name)");
        config.users[u.first.as<std::string>("")] = id;
      }
    } else if (key == "admins") {
      if (!value.IsSequence())
        return bad(value.Mark(), "`admins` must be a list of identities");
      for (auto a : value) {
        std::string id = a.IsScalar() ? a.as<std::string>() : "";
        if (!validIdentity(id))
          return bad(a.Mark(), "invalid identity `" + escapeControl(id) + "` (expected @name)");
        config.admins.push_back(id);
      }
    } else {
      return bad(entry.first.Mark(), "unknown setting `" + escapeControl(key) + "` (expected `users` or `admins`)");
    }
  }
  return config;
}

std::optional<std::string> identityOfUid(unsigned uid, const IdentityConfig &config) {
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found)
    return std::nullopt;
  std::string name = found->pw_name;
  if (auto it = config.users.find(name); it != config.users.end())
    return it->second;
  std::string id = "@" + name;
  if (!validIdentity(id))
    return std::nullopt;
  return id;
}

} // namespace dpl::runtime
