// `deployd token create|list|revoke`: API tokens for people and systems
// that do not call as a local user (CI, the demo's people). Admins only.
// `create` prints the token on stdout, once; deployd keeps only its hash.
#include "runtime/cli/Cli.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl::runtime::cli {

Runner setupToken(CLI::App &sub, Globals &g) {
  auto action = std::make_shared<std::string>(), identity = std::make_shared<std::string>();
  sub.add_option("ACTION", *action, "create, list or revoke")->required()->check(CLI::IsMember({"create", "list", "revoke"}));
  sub.add_option("IDENTITY", *identity, "@name the token stands for (create, revoke)");
  return [&g, action, identity] {
    if (*action != "list" && identity->empty())
      return fail("token " + *action + " needs an IDENTITY such as @alice", ExitUsage);
    llvm::json::Object r;
    if (int rc = callDaemon(g, "token." + *action, llvm::json::Object{{"identity", *identity}}, r); rc >= 0)
      return rc;
    if (*action == "create") {
      llvm::outs() << safe(r.getString("token").getValueOr("")) << "\n";
      llvm::errs() << "deployd: token for " << safe(*identity)
                   << " created; it is shown once (send it with DEPLOYD_TOKEN or --token-file)\n";
    } else if (*action == "revoke") {
      llvm::outs() << "revoked " << r.getInteger("revoked").getValueOr(0) << " token(s) of " << safe(*identity) << "\n";
    } else {
      std::vector<std::vector<std::string>> rows{{"IDENTITY", "CREATED", "BY", "REVOKED", "HASH"}};
      if (const llvm::json::Array *list = r.getArray("tokens"))
        for (auto &t : *list) {
          const llvm::json::Object &o = *t.getAsObject();
          int64_t revoked = o.getInteger("revoked_at_ms").getValueOr(-1);
          rows.push_back({o.getString("identity").getValueOr("").str(), stamp(o.getInteger("created_at_ms").getValueOr(0)),
                          o.getString("created_by").getValueOr("").str(), revoked >= 0 ? stamp(revoked) : "-",
                          o.getString("hash_prefix").getValueOr("").str() + "…"});
        }
      printTable(rows);
    }
    return int(ExitOk);
  };
}

} // namespace dpl::runtime::cli
